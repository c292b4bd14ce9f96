// Package config is the YAML file a user edits to train a model: where the
// data is and how to read it (data), the metadata column types (metadata,
// a meta.Config), the network (model, a model.Spec) and the training
// recipe (train).
//
// Load reads a file strictly: an unknown key is an error naming the key and
// its line, and Validate reports every invalid field by its full key
// (train.optimizer.lr). Relative paths in the data section and
// model.backbone.weights (pretrained torchvision weights) are resolved
// against the directory of the config file. Every field has a documented
// zero value; WithDefaults fills them in, and the training code reads the
// result.
//
// A run's length is train.epochs (default 10) or train.steps, a budget of
// optimizer steps: the run trains ceil(steps / batches per epoch) epochs,
// the last cut short at the budget and then validated, logged and
// checkpointed like any final epoch. Giving both keys is an error; the
// epochs default applies only when steps is 0.
//
// A complete example, with every section:
//
//	data:
//	  train: train.csv          # or manifest: all.csv with split_column
//	  val: val.csv
//	  test: test.csv
//	  image_column: path
//	  label_column: label
//	  classes: [ok, scratch, spot, crack]
//	  image: {size: 64, channels: 3, resize: stretch, normalize: none}
//	  on_bad_row: error
//	metadata:
//	  columns:
//	    - {name: camera, type: categorical}
//	    - {name: hour, type: cyclical, period: 24}
//	    - {name: temperature, type: numeric}
//	model:
//	  backbone: {kind: seed, widths: [32, 64]}
//	  fusion: [{kind: film}]
//	train:
//	  epochs: 10                # or steps: 5000 (optimizer steps), not both
//	  batch_size: 32
//	  optimizer: {kind: adamw, lr: 0.001, weight_decay: 0.01}
//	  schedule: {kind: cosine, warmup_epochs: 1}
//	  class_weights: inverse-frequency
//	  early_stopping: {metric: val_balanced_accuracy, patience: 3}
//	  seed: 1
//	  checkpoint_every: 1
//	  grad_clip: 5
//	  augment: {flip_h: 0.5}
package config
