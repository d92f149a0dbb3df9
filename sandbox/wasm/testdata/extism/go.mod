module example.com/wardenbenchextism

go 1.24
