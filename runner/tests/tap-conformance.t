#!/bin/sh
# The TAP that `make check` produced, read by Perl's TAP::Parser (what
# prove uses): no parse errors, a plan, and as many results as planned.
# Run by runner/test through prove, with TAP_FILE set.
set -u
f=${TAP_FILE:?TAP_FILE is the TAP to check}
[ -f "$f" ] || { echo "1..1"; echo "not ok 1 TAP file $f exists"; exit 1; }
exec perl -MTAP::Parser -e '
	open(my $fh, "<", $ARGV[0]) or die; local $/; my $tap = <$fh>; $tap =~ s/\r//g;
	my $p = TAP::Parser->new({ tap => $tap });
	my ($n, $results) = (0, 0);
	while (my $r = $p->next) { $results++ if $r->is_test }
	my @err = $p->parse_errors;
	print "1..4\n";
	print((@err ? "not ok" : "ok"), " 1 no TAP parse errors\n");
	print "# $_\n" for @err;
	print(($p->plan ? "ok" : "not ok"), " 2 a plan (", $p->plan // "none", ")\n");
	print(($results && $results == $p->tests_planned ? "ok" : "not ok"),
	      " 3 results match the plan ($results of ", $p->tests_planned // 0, ")\n");
	print((!$p->failed ? "ok" : "not ok"), " 4 no failed results (", scalar($p->failed), ")\n");
	exit(@err || !$results || $results != $p->tests_planned || $p->failed ? 1 : 0);
' "$f"
