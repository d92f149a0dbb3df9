module example.com/sheetgen

go 1.24
