// Package train runs the training loop a config describes: it reads and
// splits the data, fits the metadata schema on the training rows only,
// builds the network, the optimizer, the learning-rate schedule and the
// class weights, trains for the configured epochs with validation after
// each (loss, accuracy, balanced accuracy), stops early when the chosen
// metric stops improving, and returns the trained network with everything
// needed to save and serve it (Result).
//
// With model.backbone.weights the backbone starts from a torchvision
// state_dict (model.LoadBackboneFile), and model.backbone.freeze keeps its
// stem and first stages out of training. The optimizer's parameter groups
// follow the config: group 0, default, holds everything at
// train.optimizer.lr; train.optimizer.backbone_lr adds a backbone group;
// each model.fusion[i].options.weight_decay adds a fusion[i] group for
// that entry's metadata generators. Schedules scale every group from its
// own base learning rate. The start event of the log lists the groups.
//
// A run writes an atomic checkpoint (see WriteCheckpoint for the format)
// every train.checkpoint_every epochs and when its context is cancelled;
// Resume continues it with the same data order, random streams and
// schedule, so an interrupted and resumed run ends with the same weights,
// bit for bit, as an uninterrupted one. Every random choice derives from
// train.seed. A cancelled run returns an *InterruptedError (errors.Is
// ErrInterrupted).
//
// The training log is JSON Lines, one object per event, each with "event"
// and "time": start or resume, step (every train.log_every steps), epoch
// (the EpochStats fields), interrupted, end (the Summary fields).
package train
