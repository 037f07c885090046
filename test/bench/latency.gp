# Latency CDF of the fixed-rate run (test/bench/run.sh renders it):
#   gnuplot -e "results='DIR'; out='FILE.png'" latency.gp
set terminal pngcairo size 900,560 font ",10"
set output out
set title "latency at a fixed 2000 tasks/s (open loop): pfo3 and the broker alone"
set xlabel "latency (ms, log scale)"
set ylabel "fraction of tasks at or below"
set logscale x 10
set yrange [0:1.02]
set key top left
set grid
base = system("test -s ".results."/cdf-publish_to_confirm.dat && echo 1 || echo 0") + 0
if (base) {
plot results.'/cdf-submit_to_ok.dat' using 1:2 with lines lw 2 title "pfo3 submit → ok (confirmed by the broker)", \
     results.'/cdf-submit_to_stored.dat' using 1:2 with lines lw 2 title "pfo3 submit → stored (result in the file store)", \
     results.'/cdf-publish_to_confirm.dat' using 1:2 with lines lw 1 dt 2 title "broker alone: publish → confirm", \
     results.'/cdf-publish_to_delivered.dat' using 1:2 with lines lw 1 dt 2 title "broker alone: publish → delivered"
} else {
plot results.'/cdf-submit_to_ok.dat' using 1:2 with lines lw 2 title "submit → ok (confirmed by the broker)", \
     results.'/cdf-submit_to_stored.dat' using 1:2 with lines lw 2 title "submit → stored (result in the file store)"
}
