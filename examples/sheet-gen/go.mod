module example.com/sheetgen

go 1.24

require github.com/wardenproject/warden/pdk v0.0.0

replace github.com/wardenproject/warden/pdk => ../../pdk
