module benchgen

go 1.22
