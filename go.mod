module github.com/metacnn/metacnn

go 1.26
