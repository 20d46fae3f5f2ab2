module github.com/pace-cli/pace/function

go 1.25.0
