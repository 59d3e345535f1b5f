#!/usr/bin/perl -w
# The reading and counting part of the cron script sipban replaces ("check-failed-regs.pl",
# 2010, as its readers fixed it: both patterns with a plain hyphen), for the scan benchmark.
# It takes the log as an argument and prints "<address> <failures>" per address instead of
# calling iptables.
use strict;
use warnings;
my (@failhost);
open (MYINPUTFILE, $ARGV[0]) or die "\n", $!, "Does log file file exist\?\n\n";
while (<MYINPUTFILE>) {
my ($line) = $_;
chomp($line);
if ($line =~ m/\' failed for \'(.*?)\' - No matching peer found/) {
push(@failhost,$1);
}
if ($line =~ m/\' failed for \'(.*?)\' - Wrong password/) {
push(@failhost,$1);
}
}
my %count;
map { $count{$_}++ } @failhost;
foreach my $ip (sort keys %count) {
print "$ip $count{$ip}\n";
}
