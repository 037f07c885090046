# Throughput against window, one line per connection count (test/bench/run.sh renders it):
#   gnuplot -e "results='DIR'; out='FILE.png'" throughput.gp
# Solid: accepted tasks/s; dashed: end to end (stored) tasks/s; grey: the broker alone.
set terminal pngcairo size 900,560 font ",10"
set output out
load results.'/ceiling.gp'
set title "pfo3 throughput (closed loop, 2 workers, file store)"
set xlabel "pipelining window per connection"
set ylabel "tasks/s"
set logscale x 2
set xrange [0.7:1500]
set yrange [0:*]
set key outside right top
set grid
plot pub  with lines lc rgb "#888888" dt 1 lw 2 title "broker: publish+confirm", \
     pipe with lines lc rgb "#888888" dt 2 lw 2 title "broker: publish+consume", \
     for [c in "1 4 16"] results.'/throughput-c'.c.'.dat' using 1:2 with linespoints lw 2 pt 7 lc int(c) \
         title c.' conn: accepted', \
     for [c in "1 4 16"] results.'/throughput-c'.c.'.dat' using 1:3 with linespoints dt 2 lw 2 pt 6 lc int(c) \
         title c.' conn: end to end'
