module github.com/wardenproject/warden/pdk

go 1.24
