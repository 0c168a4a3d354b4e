# Helpers for the TAP tests of the HTML reports: headless Chromium renders a
# report (a screenshot, or the DOM after an inline script of the test's own
# measured it), and a small PNG reader lets the test look at pixels.
package PgsmReport;

use strict;
use warnings;

use Compress::Zlib qw(uncompress);
use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

use Exporter 'import';
our @EXPORT = qw(chromium_run report_with_probe probe_results console_lines
  png_read png_count);

# Debian's package installs /usr/bin/chromium (scripts/deps.sh, and
# scripts/chroot.sh in the chroots).
sub chromium_path
{
	for my $p (qw(/usr/bin/chromium /usr/bin/chromium-browser))
	{
		return $p if -x $p;
	}
	BAIL_OUT('chromium is not installed: scripts/deps.sh (or scripts/chroot.sh) installs it');
}

# Run headless Chromium on a local file with the given extra options
# (--screenshot=..., --dump-dom), a window of 1200 x $height.  Returns its
# standard output and error.  --no-sandbox: the tests may run as root in a
# chroot, where Chromium's sandbox cannot start; the pages they open are
# the reports, which run no script of their own, and the test's probe.
sub chromium_run
{
	my ($file, $height, @opts) = @_;
	my $home = tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 1);
	my ($out, $err) = ('', '');
	local $ENV{HOME} = $home;
	local $ENV{XDG_CONFIG_HOME} = "$home/.config";
	local $ENV{XDG_CACHE_HOME} = "$home/.cache";
	IPC::Run::run(
		[
			chromium_path(), '--headless', '--no-sandbox', '--disable-gpu',
			'--hide-scrollbars', '--no-first-run', '--disable-extensions',
			'--disable-background-networking', '--user-data-dir=' . "$home/profile",
			'--enable-logging=stderr', '--v=0', "--window-size=1200,$height",
			@opts, "file://$file"
		],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(180))
	  or die "chromium failed on $file: $err";
	return ($out, $err);
}

# What the page logged to its console (errors, refused loads, anything a
# script printed), from Chromium's log
sub console_lines
{
	my ($err) = @_;
	return grep { /:CONSOLE[:(]/ } split /\n/, $err;
}

# A copy of a report, beside it, with the test's probe: the report's
# Content-Security-Policy removed (it would refuse the probe, as it refuses
# any script) and a script at the end of the body that measures every chart
# and sparkline and writes what it found, as JSON, into <pre id="probe">.
sub report_with_probe
{
	my ($file) = @_;
	my $html = slurp_file($file);
	$html =~ s/<meta http-equiv="Content-Security-Policy"[^>]*>//
	  or die "no Content-Security-Policy in $file";
	my $probe = <<'JS';
<pre id="probe"></pre><script>
(function () {
  // bars, heat map cells and lines: the background rect does not count
  function marks(svg) {
    var n = 0;
    svg.querySelectorAll('rect, polyline').forEach(function (e) {
      if (e === svg.firstElementChild) return;
      var b = e.getBoundingClientRect();
      if (b.width > 0 && (b.height > 0 || e.tagName === 'polyline')) n++;
    });
    return n;
  }
  function shape(svg) {
    var b = svg.getBoundingClientRect();
    return { label: svg.getAttribute('aria-label') || '',
             width: b.width, height: b.height,
             x: b.left + window.scrollX, y: b.top + window.scrollY,
             attr_width: +svg.getAttribute('width'), attr_height: +svg.getAttribute('height'),
             marks: marks(svg),
             polyline_points: (svg.querySelector('polyline') || { getAttribute: function () { return ''; } })
                              .getAttribute('points').trim().split(/\s+/).filter(Boolean).length };
  }
  var r = {
    charts: Array.prototype.map.call(document.querySelectorAll('svg.chart'), shape),
    sparks: Array.prototype.map.call(document.querySelectorAll('svg.spark'), shape),
    sections: Array.prototype.map.call(document.querySelectorAll('h2[id]'), function (h) { return h.id; }),
    scripts: document.scripts.length,
    title: document.title,
    text: document.body.innerText
  };
  document.getElementById('probe').textContent = JSON.stringify(r);
})();
</script>
JS
	$html =~ s{</body>}{$probe</body>} or die "no </body> in $file";
	(my $copy = $file) =~ s/\.html$/-probe.html/;
	open my $fh, '>', $copy or die "could not write $copy: $!";
	print $fh $html;
	close $fh;
	return $copy;
}

# The probe's findings, from the DOM that --dump-dom printed
sub probe_results
{
	my ($dom) = @_;
	require JSON::PP;
	$dom =~ m{<pre id="probe">(.*?)</pre>}s or die "the probe wrote nothing";
	my $json = $1;
	$json =~ s/&lt;/</g;
	$json =~ s/&gt;/>/g;
	$json =~ s/&quot;/"/g;
	$json =~ s/&nbsp;/\x{a0}/g;
	$json =~ s/&amp;/&/g;
	return JSON::PP->new->utf8(0)->decode($json);
}

# A PNG as { width, height, pixels: [ [r, g, b], ... ] row by row }: 8-bit
# RGB or RGBA, not interlaced, as Chromium writes its screenshots.
sub png_read
{
	my ($file) = @_;
	my $data = slurp_file($file);
	die "$file is not a PNG" unless substr($data, 0, 8) eq "\x89PNG\r\n\x1a\n";
	my ($pos, $idat, %hdr) = (8, '');
	while ($pos < length $data)
	{
		my ($len, $type) = unpack('Na4', substr($data, $pos, 8));
		my $body = substr($data, $pos + 8, $len);
		if ($type eq 'IHDR')
		{
			@hdr{qw(width height depth color compression filter interlace)} =
			  unpack('NNCCCCC', $body);
		}
		$idat .= $body if $type eq 'IDAT';
		$pos += 12 + $len;
	}
	die "$file: only 8-bit RGB(A), not interlaced"
	  unless $hdr{depth} == 8 && ($hdr{color} == 2 || $hdr{color} == 6) && !$hdr{interlace};
	my $bpp = $hdr{color} == 6 ? 4 : 3;
	my $raw = uncompress($idat) // die "$file: bad image data";
	my $stride = $hdr{width} * $bpp;
	my @prev = (0) x $stride;
	my @rows;
	for my $y (0 .. $hdr{height} - 1)
	{
		my $off = $y * ($stride + 1);
		my $ft = ord substr($raw, $off, 1);
		my @cur = unpack('C*', substr($raw, $off + 1, $stride));
		for my $i (0 .. $stride - 1)
		{
			my $a = $i >= $bpp ? $cur[ $i - $bpp ] : 0;
			my $b = $prev[$i];
			my $c = $i >= $bpp ? $prev[ $i - $bpp ] : 0;
			my $p;
			if ($ft == 0) { $p = 0 }
			elsif ($ft == 1) { $p = $a }
			elsif ($ft == 2) { $p = $b }
			elsif ($ft == 3) { $p = ($a + $b) >> 1 }
			else
			{
				my $e = $a + $b - $c;
				my ($pa, $pb, $pc) = (abs($e - $a), abs($e - $b), abs($e - $c));
				$p = ($pa <= $pb && $pa <= $pc) ? $a : ($pb <= $pc ? $b : $c);
			}
			$cur[$i] = ($cur[$i] + $p) & 0xff;
		}
		push @rows, [@cur];
		@prev = @cur;
	}
	return { width => $hdr{width}, height => $hdr{height}, bpp => $bpp, rows => \@rows };
}

# How many pixels in the box ($x, $y, $w, $h) of a PNG read by png_read
# satisfy $test->(r, g, b)
sub png_count
{
	my ($png, $x, $y, $w, $h, $test) = @_;
	my $n = 0;
	my $bpp = $png->{bpp};
	for my $j (int($y) .. int($y + $h) - 1)
	{
		next if $j < 0 || $j >= $png->{height};
		my $row = $png->{rows}[$j];
		for my $i (int($x) .. int($x + $w) - 1)
		{
			next if $i < 0 || $i >= $png->{width};
			$n++ if $test->(@$row[ $i * $bpp .. $i * $bpp + 2 ]);
		}
	}
	return $n;
}

1;
