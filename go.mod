module github.com/metacnn/metacnn

go 1.26.0

require (
	golang.org/x/image v0.48.0
	gopkg.in/yaml.v3 v3.0.1
)
