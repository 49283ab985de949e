# spillway's stand-in for coreutils' test driver module, so GNU's data-only sort tests
# (tests/misc/sort*.pl or tests/sort/sort*.pl of a coreutils checkout) run against
# `spillway sort`. Written for spillway; it implements only what those files call:
# getlimits, triple_test and run_tests. A case passes when the exit status, stdout and any
# CMP file match; stderr is compared separately (spillway words its messages its own way),
# so each case reports one of: PASS, PASS-STDERR-DIFFERS, FAIL.
package Coreutils;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
our @EXPORT = qw(getlimits triple_test run_tests);
# GNU's *_SUBST expressions name the program as $prog.
our $prog = 'sort';

sub getlimits {
  my $big = '18446744073709551616';
  return { UINTMAX_OFLOW => $big, SIZE_OFLOW => $big, UINTMAX_MAX => '18446744073709551615',
           SIZE_MAX => '18446744073709551615', INT_MAX => '2147483647',
           INT_OFLOW => '2147483648', LONG_MAX => '9223372036854775807' };
}

# Each case with exactly one IN also runs with that input on stdin (.r) and from a pipe (.p).
sub triple_test {
  my ($tests) = @_;
  my @all;
  for my $case (@$tests) {
    push @all, $case;
    my ($name, @rest) = @$case;
    my @inputs = grep { ref $_ eq 'HASH' && exists $_->{IN} } @rest;
    next unless @inputs == 1;
    my @others = grep { !(ref $_ eq 'HASH' && exists $_->{IN}) } @rest;
    my @words = grep { !ref $_ } @others;
    my @hashes = grep { ref $_ } @others;
    push @all, ["$name.r", @words, '<', { IN => $inputs[0]{IN} }, @hashes];
    push @all, ["$name.p", @words, { IN_PIPE => $inputs[0]{IN} }, @hashes];
  }
  return @all;
}

sub write_file {
  my ($path, $data) = @_;
  open my $fh, '>:raw', $path or die "cannot write $path: $!";
  print $fh $data;
  close $fh;
}

sub read_file {
  my ($path) = @_;
  open my $fh, '<:raw', $path or return undef;
  local $/;
  my $data = <$fh>;
  close $fh;
  return defined $data ? $data : '';
}

sub apply_subst {
  my ($text, $subst) = @_;
  return $text unless defined $subst;
  local $_ = $text;
  eval $subst;
  return $_;
}

sub quote { my ($s) = @_; $s =~ s/'/'\\''/g; return "'$s'"; }

sub run_tests {
  my ($program_name, undef, $cases, $save_temps, $verbose) = @_;
  $prog = $program_name;
  my $command = $ENV{SPILLWAY_SORT} or die "set SPILLWAY_SORT to the command that runs spillway sort\n";
  my $only = $ENV{GNU_TEST_FILTER};
  my $dir = tempdir('spillway-gnu-XXXXXX', TMPDIR => 1, CLEANUP => !$save_temps);
  chdir $dir or die "chdir $dir: $!";
  my %count = (PASS => 0, 'PASS-STDERR-DIFFERS' => 0, FAIL => 0);
  my $counter = 0;
  for my $case (@$cases) {
    my ($name, @spec) = @$case;
    next if defined $only && $name !~ /$only/;
    my (@args, %expect, $pipe, $env, %subst, @cmp, $pre, $post);
    my %aux;
    $expect{EXIT} = 0;
    for my $item (@spec) {
      if (!ref $item) { push @args, $item; next; }
      my ($type, $value) = %$item;
      if ($type eq 'IN' || $type eq 'IN_PIPE' || $type eq 'AUX') {
        my ($file, $data);
        if (ref $value eq 'HASH') { ($file, $data) = %$value; }
        else { $counter += 1; ($file, $data) = ("$name.in$counter", $value); }
        write_file($file, $data) if defined $data;
        if ($type eq 'IN') { push @args, quote($file); }
        elsif ($type eq 'IN_PIPE') { $pipe = "cat " . quote($file) . " |"; }
        else { $aux{AUX} = $file; }
      } elsif ($type eq 'OUT' || $type eq 'ERR') {
        $expect{$type} = ref $value eq 'HASH' ? (values %$value)[0] : $value;
      } elsif ($type eq 'EXIT') { $expect{EXIT} = $value; }
      elsif ($type =~ /^(OUT|ERR)_SUBST$/) { $subst{$1} = $value; }
      elsif ($type eq 'ENV') { $env = $value; }
      elsif ($type eq 'ENV_DEL') { }
      elsif ($type eq 'CMP') {
        my ($want, $file_spec) = @$value;
        push @cmp, [$want, (keys %$file_spec)[0]];
      } elsif ($type eq 'PRE') { $pre = $value; }
      elsif ($type eq 'POST') { $post = $value; }
      else { die "$name: unknown spec $type\n"; }
    }
    @args = map { my $a = $_; $a =~ s/\@AUX\@/$aux{AUX}/g if defined $aux{AUX}; $a } @args;
    $pre->() if $pre;
    my $line = join(' ', grep { defined && length } ($pipe, $env, $command, @args,
      "> $name.O", "2> $name.E"));
    my $status = system('/bin/sh', '-c', $line);
    my $exit = $status == -1 ? 255 : ($status & 127 ? 128 + ($status & 127) : $status >> 8);
    my $out = apply_subst(read_file("$name.O"), $subst{OUT});
    my $err = apply_subst(read_file("$name.E"), $subst{ERR});
    my @problems;
    push @problems, "exit $exit, expected $expect{EXIT}" if $exit != $expect{EXIT};
    push @problems, "stdout differs" if defined $expect{OUT} ? $out ne $expect{OUT} : $out ne '';
    for my $pair (@cmp) {
      my $got = read_file($pair->[1]);
      push @problems, "$pair->[1] differs" if !defined $got || $got ne $pair->[0];
    }
    $post->() if $post;
    my $err_ok = defined $expect{ERR} ? $err eq $expect{ERR} : $err eq '';
    my $verdict = @problems ? 'FAIL' : $err_ok ? 'PASS' : 'PASS-STDERR-DIFFERS';
    $count{$verdict} += 1;
    my $detail = @problems ? ' (' . join('; ', @problems) . ')' : '';
    $detail .= ' [stderr: ' . (split /\n/, $err)[0] . ']' if !$err_ok && length $err;
    print "$verdict $name$detail: $command @args\n" if $verdict ne 'PASS' || $verbose;
  }
  chdir '/';
  my $total = $count{PASS} + $count{'PASS-STDERR-DIFFERS'} + $count{FAIL};
  print "SUMMARY $0: $total cases: $count{PASS} pass, "
    . "$count{'PASS-STDERR-DIFFERS'} pass with a different stderr, $count{FAIL} fail\n";
  return $count{FAIL} > 0 ? 1 : 0;
}

1;
