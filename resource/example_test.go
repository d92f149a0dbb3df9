package resource_test

import (
	"fmt"

	"github.com/wardenproject/warden/resource"
)

func Example() {
	opts := resource.Options{Home: "/home/ada"}
	grant, _ := resource.ParseWith("filesystem:~/Documents/Spreadsheets", opts)
	fmt.Println(grant)
	fmt.Println(grant.MatchPath("/home/ada/Documents/Spreadsheets/q1.xlsx"))
	fmt.Println(grant.MatchPath("/home/ada/Documents/Taxes/2025.pdf"))

	child, _ := resource.ParseWith("filesystem:~/Documents/Spreadsheets/*.csv", opts)
	fmt.Println(grant.Contains(child), child.Contains(grant))
	// Output:
	// filesystem:/home/ada/Documents/Spreadsheets
	// true
	// false
	// true false
}

func ExamplePattern_Wildcard() {
	for _, s := range []string{"filesystem:/**", "net:https://*", "net:https://api.example.com/v1"} {
		p := resource.MustParse(s)
		wild, why := p.Wildcard()
		fmt.Println(s, wild, why)
	}
	// Output:
	// filesystem:/** true matches paths anywhere from the filesystem root
	// net:https://* true matches any host
	// net:https://api.example.com/v1 false
}

func ExampleParseWith_error() {
	_, err := resource.ParseWith("filesystem:/srv/../../etc", resource.Options{})
	fmt.Println(err)
	// Output:
	// resource pattern "filesystem:/srv/../../etc": ".." climbs above the root "/"; remove it or write the absolute path it means (at byte 19)
}
