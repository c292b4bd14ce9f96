package nn

// MarshalText implements encoding.TextMarshaler with the name String gives,
// so an activation reads and writes as "relu", "gelu", ... in YAML and JSON.
func (k ActivationKind) MarshalText() ([]byte, error) {
	if _, err := ParseActivation(k.String()); err != nil {
		return nil, err
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler via ParseActivation.
func (k *ActivationKind) UnmarshalText(b []byte) error {
	v, err := ParseActivation(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
