# RSS and create->Job latency of the operator against the S2iRuns in the cluster, from
# bench_operator.py's operator.dat (live bursts, runs accumulating) and cached.dat
# (finished runs with their Jobs and Pods loaded before the operator starts).
# Run in $BENCH_OUT: gnuplot test/bench/plot.gp  -> results.png
set terminal pngcairo size 900,620 font "DejaVu Sans,10" noenhanced
set output "results.png"
set multiplot layout 2,1 title "s2i-operator on kube-sim (loopback): memory and latency against runs in the cluster"
set grid
set key top left
set xlabel "S2iRuns in the cluster"
set ylabel "MiB"
set yrange [0:*]
plot "operator.dat" using 1:2 with linespoints lw 2 pt 7 title "RSS, runs + Jobs from live bursts", \
     "operator.dat" using 1:8 with linespoints lw 1 pt 6 dt 2 title "  of which anonymous", \
     "cached.dat" using 1:2 with linespoints lw 2 pt 5 title "RSS, finished runs + Jobs + Pods loaded", \
     "cached.dat" using 1:3 with linespoints lw 1 pt 4 dt 2 title "  of which anonymous", \
     9 with lines lc rgb "red" dt 3 title "budget after 1,000 runs (9 MiB)"
set ylabel "create->Job, ms"
set logscale y
set yrange [1:1e6]
set key top left horizontal maxcols 2
plot "operator.dat" using 1:6 with linespoints lw 2 pt 7 title "create->Job p50, one at a time", \
     "operator.dat" using 1:7 with linespoints lw 1 pt 6 title "create->Job p99, one at a time", \
     "operator.dat" using 1:3 with linespoints lw 2 pt 5 title "p50 in a burst of 1,000", \
     "operator.dat" using 1:4 with linespoints lw 1 pt 4 title "p99 in a burst of 1,000"
unset multiplot
