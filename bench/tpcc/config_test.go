package tpcc

import "testing"

func TestDriverDSN(t *testing.T) {
	for _, tc := range []struct{ url, driver, dsn, server string }{
		{"meridian://root@127.0.0.1:7400/tpcc", "meridian", "meridian://root@127.0.0.1:7400/tpcc", "meridian://root@127.0.0.1:7400/"},
		{"meridian://root@127.0.0.1:7400/tpcc?region=us-east", "meridian", "meridian://root@127.0.0.1:7400/tpcc?region=us-east", "meridian://root@127.0.0.1:7400/?region=us-east"},
		{"mysql://root@127.0.0.1:3307/tpcc", "mysql", "root@tcp(127.0.0.1:3307)/tpcc", "root@tcp(127.0.0.1:3307)/"},
		{"mysql://u:p@db.example/tpcc?tls=true", "mysql", "u:p@tcp(db.example:3306)/tpcc?tls=true", "u:p@tcp(db.example:3306)/?tls=true"},
	} {
		d, dsn, err := driverDSN(tc.url)
		if err != nil || d != tc.driver || dsn != tc.dsn {
			t.Errorf("driverDSN(%q) = %q, %q, %v; want %q, %q", tc.url, d, dsn, err, tc.driver, tc.dsn)
		}
		_, sdsn, err := serverDSN(tc.url)
		if err != nil || sdsn != tc.server {
			t.Errorf("serverDSN(%q) = %q, %v; want %q", tc.url, sdsn, err, tc.server)
		}
	}
	for _, bad := range []string{"postgres://x@h/db", "meridian://root@h:1/", "mysql://root@h"} {
		if _, _, err := driverDSN(bad); err == nil {
			t.Errorf("driverDSN(%q) accepted", bad)
		}
	}
}
