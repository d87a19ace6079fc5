package egress_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/whistle-civic/whistle/pkg/egress"
)

func TestCheckRefusesSpecialPurposeAddresses(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{
		"127.0.0.1", "127.255.255.254", "::1", "10.0.0.1", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "169.254.169.254", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "100.64.0.1", "0.0.0.0", "0.1.2.3",
		"::", "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "192.0.0.8",
		"198.18.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2002:7f00:1::1",
		"::127.0.0.1", "2001::1", "fec0::1",
	} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			err := egress.Policy{}.Check(netip.MustParseAddr(ip))
			if !errors.Is(err, egress.ErrRefused) {
				t.Fatalf("Check(%s) = %v; want ErrRefused", ip, err)
			}
			if !strings.Contains(err.Error(), egress.EnvAllow) {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}

func TestCheckAcceptsPublicAddresses(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{
		"93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:93.184.216.34",
		"64:ff9b::5db8:d822", // NAT64 of 93.184.216.34
		"2002:5db8:d822::1",  // 6to4 of 93.184.216.34
		"172.32.0.1", "100.128.0.1", "11.0.0.1",
	} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			if err := (egress.Policy{}).Check(netip.MustParseAddr(ip)); err != nil {
				t.Fatalf("Check(%s) = %v; want nil", ip, err)
			}
		})
	}
}

func TestCheckRefusesTheZeroAddr(t *testing.T) {
	t.Parallel()
	if err := (egress.Policy{}).Check(netip.Addr{}); !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("Check(Addr{}) = %v", err)
	}
}

func TestAllowLetsAnOperatorsOwnServicesThrough(t *testing.T) {
	t.Parallel()
	p := egress.Policy{Allow: []netip.Prefix{
		netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("::ffff:192.168.1.5/128"), // written mapped
		netip.MustParsePrefix("fd00:1::/64"),
	}}
	tests := []struct {
		ip string
		ok bool
	}{
		{"10.20.3.4", true},
		{"::ffff:10.20.3.4", true},
		{"64:ff9b::a14:304", true}, // NAT64 of 10.20.3.4
		{"10.21.0.1", false},
		{"192.168.1.5", true},
		{"192.168.1.6", false},
		{"fd00:1::5", true},
		{"fd00:2::5", false},
		{"127.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			t.Parallel()
			err := p.Check(netip.MustParseAddr(tc.ip))
			if (err == nil) != tc.ok {
				t.Fatalf("Check(%s) = %v; want allowed %v", tc.ip, err, tc.ok)
			}
		})
	}
}

func TestParseAllow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
		err      string
	}{
		{"empty", "", nil, ""},
		{"blanks", " , ,", nil, ""},
		{"prefix and address", "10.20.0.0/16, 192.168.1.5", []string{"10.20.0.0/16", "192.168.1.5/32"}, ""},
		{"IPv6", "fd00:1::/64,::1", []string{"fd00:1::/64", "::1/128"}, ""},
		{"host bits cleared", "10.20.3.4/16", []string{"10.20.0.0/16"}, ""},
		{"mapped", "::ffff:10.0.0.0/104,::ffff:10.1.1.1", []string{"10.0.0.0/8", "10.1.1.1/32"}, ""},
		{"a host name", "10.0.0.0/8,db.internal", nil, `"db.internal"`},
		{"bad prefix length", "10.0.0.0/33", nil, `"10.0.0.0/33"`},
		{"a zone", "fe80::1%eth0", nil, "zone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := egress.ParseAllow(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), egress.EnvAllow) {
					t.Fatalf("ParseAllow(%q) = %v, %v; want an error naming %s", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !slices.Equal(s, tc.want) {
				t.Fatalf("ParseAllow(%q) = %v; want %v", tc.in, s, tc.want)
			}
		})
	}
}
