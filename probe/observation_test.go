package probe

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A target's password never prints: fmt, %#v and slog all leave it out.
func TestTargetHidesPassword(t *testing.T) {
	const secret = "s3cr3t-pw-1618"
	tg := Target{Cluster: "c", Kind: KindMySQL, Address: "10.0.0.1:3306", Dial: "10.0.0.1:3306", Username: "mon", Password: secret}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("probe", "target", tg)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", tg), "%+v": fmt.Sprintf("%+v", tg), "%#v": fmt.Sprintf("%#v", tg), "slog": logged.String(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s shows the password: %s", name, out)
		}
		if !strings.Contains(out, "10.0.0.1:3306") {
			t.Errorf("%s lacks the address: %s", name, out)
		}
	}
}
