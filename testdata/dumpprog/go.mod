module hangtui.test/dumpprog

go 1.22
