module runtimeleak

go 1.22
