package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
	"github.com/imsentinel/imsentinel/sentinel"
)

type instanceOptions struct {
	apiOptions
	Action   string // rejoin, fence or unfence
	Cluster  string
	Instance string
	Force    bool // fence: the committed primary too
	Yes      bool
	In       io.Reader // the confirmation
	Out      io.Writer
	ErrOut   io.Writer // the question
}

// instanceVerbs are the instance commands: what each does, for its help
// and its confirmation question.
var instanceVerbs = []struct {
	action, short, long, question, example string
}{
	{
		action: "rejoin",
		short:  "Make a returning old primary (or a stray replica) a replica of the committed primary",
		long: `Rejoin makes INSTANCE a replica of the cluster's committed primary, through
the sentinel asked, under an operator lease from the fleet: it reads both
nodes' GTID state again, fences INSTANCE (read_only=ON, application
sessions killed), repoints it by GTID (MASTER_USE_GTID=slave_pos, with
MASTER_DEMOTE_TO_SLAVE=1 on MariaDB when it answers as a primary;
SOURCE_AUTO_POSITION=1 on MySQL) and waits until both replication threads
run.

It is refused (exit 1) when INSTANCE has transactions the committed primary
lacks: the answer names them, with the mariadb-binlog --start-position /
--stop-position (MySQL: mysqlbinlog --include-gtids) arguments that read
them out of INSTANCE's binary log. Discard them or rebuild INSTANCE first
(docs/runbooks/ErrantReturningPrimary.md). Also refused for the committed
primary itself, or when either node does not answer. An instance that
already replicates from the primary is left alone ("nothing to do").

MySQL/MariaDB clusters only: a Redis steward demotes a returning primary
itself.`,
		question: "Rejoin %s to the primary of %s (fence it, then repoint it by GTID)",
		example:  "  imctl instance rejoin msg-shard-01 10.0.0.5:3306",
	},
	{
		action: "fence",
		short:  "Make an instance refuse writes (read_only=ON) and kill its application sessions",
		long: `Fence sets read_only=ON on INSTANCE (MySQL: super_read_only=ON too) and kills
its application sessions, through the sentinel asked, under an operator
lease from the fleet. Accounts with READ ONLY ADMIN (MariaDB, part of ALL
PRIVILEGES) and the replication applier still write.

Fencing the committed primary stops every write to the cluster until
imctl instance unfence: it is refused unless --force is given.

MySQL/MariaDB clusters only.`,
		question: "Fence %s in %s (read_only=ON, application sessions killed)",
		example:  "  imctl instance fence msg-shard-01 10.0.0.5:3306\n  imctl instance fence msg-shard-01 10.0.0.4:3306 --force --yes",
	},
	{
		action: "unfence",
		short:  "Make the committed primary accept writes again (read_only=OFF)",
		long: `Unfence sets read_only=OFF on INSTANCE, through the sentinel asked, under an
operator lease from the fleet. Only the committed primary can be
unfenced, and not while it replicates from another node: a writable
non-primary is what the WritableNonPrimary condition flags, and its
writes are lost or diverge. A returning old primary is rejoined instead
(imctl instance rejoin).

MySQL/MariaDB clusters only.`,
		question: "Unfence %s in %s (read_only=OFF: it takes writes)",
		example:  "  imctl instance unfence msg-shard-01 10.0.0.4:3306",
	},
}

func newInstanceCmd(s ioStreams) *cobra.Command {
	cmd := &cobra.Command{Use: "instance", Short: "Repair one MySQL/MariaDB instance: rejoin, fence, unfence",
		Args: cli.Args(cobra.NoArgs), RunE: helpOnly}
	for _, v := range instanceVerbs {
		o := &instanceOptions{Action: v.action, In: s.In, Out: s.Out, ErrOut: s.ErrOut}
		c := &cobra.Command{
			Use:   v.action + " CLUSTER INSTANCE",
			Short: v.short,
			Long: v.long + `

Without --yes, imctl asks for "yes" on stdin first. It exits 0 when done
or when there was nothing to do, 1 when refused (409: the sentinel says
why) or when a step failed, 2 on bad input. Needs IMCTL_TOKEN when the
sentinels have an admin.token. -o json prints the sentinel's answer.`,
			Example: v.example,
			Args:    exactArgs(2, "CLUSTER INSTANCE"),
			RunE: func(cmd *cobra.Command, args []string) error {
				o.fromEnv(cmd, s)
				o.Cluster, o.Instance = args[0], args[1]
				return runInstance(cmd.Context(), o, v.question)
			},
		}
		addAPIFlagsTimeout(c, &o.apiOptions, operatorTimeout)
		c.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
		if v.action == "fence" {
			c.Flags().BoolVar(&o.Force, "force", false, "fence the committed primary too: the cluster takes no writes until unfenced")
		}
		cmd.AddCommand(c)
	}
	return cmd
}

func runInstance(ctx context.Context, o *instanceOptions, question string) error {
	if err := o.validate(); err != nil {
		return err
	}
	action := fmt.Sprintf("%s of %s in %s", o.Action, o.Instance, o.Cluster)
	if !o.Yes {
		if err := confirm(o.In, o.ErrOut, fmt.Sprintf(question, o.Instance, o.Cluster), action); err != nil {
			return err
		}
	}
	path := "/v1/clusters/" + url.PathEscape(o.Cluster) + "/instances/" + url.PathEscape(o.Instance) + "/" + o.Action
	var body any
	if o.Force {
		body = sentinel.InstanceRequest{Force: true}
	}
	a, err := o.send(ctx, request{Method: http.MethodPost, Path: path, Body: body,
		About: about{Cluster: o.Cluster, Action: action}})
	var api *apiError
	if errors.As(err, &api) && api.Status == http.StatusNotFound && strings.HasPrefix(api.Msg, "no such instance") {
		return fmt.Errorf("%s: %s answered: %s; `imctl cluster show %s` lists the instances", action, api.Base, api.Msg, o.Cluster)
	}
	if err != nil {
		return err
	}
	raw, err := a.readAll()
	if err != nil {
		return err
	}
	if o.Output == outputJSON {
		return writeRawJSON(o.Out, raw)
	}
	var out sentinel.InstanceOutcome
	if err := decode(raw, a.Base, path, &out); err != nil {
		return err
	}
	return printInstanceOutcome(o.Out, out)
}

func printInstanceOutcome(w io.Writer, out sentinel.InstanceOutcome) error {
	if out.Warning != "" {
		fmt.Fprintf(w, "WARNING: %s\n", out.Warning)
	}
	if !out.Changed {
		_, err := fmt.Fprintf(w, "%s %s: nothing to do: %s\n", out.Cluster, out.Instance, out.Detail)
		return err
	}
	done := map[string]string{"rejoin": "rejoined as a replica of " + out.Primary, "fence": "fenced", "unfence": "unfenced"}[out.Action]
	line := fmt.Sprintf("%s %s: %s at epoch %d: %s", out.Cluster, out.Instance, done, out.Epoch, out.Detail)
	if out.Killed > 0 {
		line += fmt.Sprintf(" (%d application sessions killed)", out.Killed)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// confirm asks question on errOut and reads the answer from in: "yes" or
// "y" goes on; anything else is an error naming action.
func confirm(in io.Reader, errOut io.Writer, question, action string) error {
	fmt.Fprintf(errOut, `%s? Type "yes" to go on: `, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if !isTerminal(in) {
		fmt.Fprintln(errOut, strings.TrimSpace(line)) // what a terminal would have echoed
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	if answer == "yes" || answer == "y" {
		return nil
	}
	why := fmt.Sprintf("the answer was %q", answer)
	if answer == "" && err != nil {
		why = "no answer on stdin"
	}
	return fmt.Errorf("%s not confirmed (%s): nothing was done; --yes skips the question", action, why)
}
