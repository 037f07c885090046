#!/usr/bin/env bash
# Builds the pfo3 .deb, installs it on this machine, checks what it installed, runs a role from
# the installed unit file's command line, then removes and purges it and checks nothing is left.
#   test/services/package-check.sh [BUILD_DIR]     (default: build-package; needs root)
# With $PFO3_TEST_AMQP_URL set, serve and a worker use that broker (a private queue, deleted at
# the end) and one task goes through them into the default result store; without it, serve
# starts against an unreachable broker and must still answer ping.
# It installs into the real /usr and /etc: a pfo3 already installed stops it before anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath -m "${1:-$root/build-package}")
started=$SECONDS

step() { echo "== package-check: $*"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (it installs the package with dpkg)"
if dpkg-query -W -f='${Status}' pfo3 2>/dev/null | grep -qv '^unknown ok not-installed$'; then
    fail "pfo3 is already on this machine ($(dpkg-query -W -f='${Status}' pfo3)); remove it first: dpkg --purge pfo3"
fi
"$root/test/services/install-deps.sh"

# What this run makes besides the package, so that a failed run leaves nothing either.
user_existed=0
getent passwd pfo3 >/dev/null && user_existed=1
for dir in /var/lib/pfo3 /var/lib/private/pfo3; do
    [ ! -e "$dir" ] || fail "$dir exists already (a result store?); move it away first"
done
enabled=0
work=$(mktemp -d /tmp/pfo3-package-check.XXXXXX)
pids=()
queue=""
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if [ -n "$queue" ]; then
        amqp-delete-queue --url="$PFO3_TEST_AMQP_URL" --queue="$queue" >/dev/null 2>&1 || true
        amqp-delete-queue --url="$PFO3_TEST_AMQP_URL" --queue="$queue.dead" >/dev/null 2>&1 || true
    fi
    # A failed run must not leave the package behind (the next run would refuse to start).
    if dpkg-query -W -f='${Status}' pfo3 2>/dev/null | grep -qv 'not-installed'; then
        echo "package-check: purging the package left by the failed run" >&2
        dpkg --purge pfo3 >&2 || rc=1
    fi
    if [ $enabled -eq 1 ]; then
        find /etc/systemd/system -type l \( -name 'pfo3-serve.service' -o -name 'pfo3-workers.target' \
             -o -name 'pfo3-worker@*.service' \) -delete
        rmdir /etc/systemd/system/pfo3-workers.target.wants 2>/dev/null || true
    fi
    rm -rf /var/lib/pfo3 /var/lib/private/pfo3
    if [ $user_existed -eq 0 ] && getent passwd pfo3 >/dev/null; then
        userdel pfo3 || rc=1
        ! getent group pfo3 >/dev/null || groupdel pfo3 || rc=1
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT

# --- build -------------------------------------------------------------------------------
step "release build in $build"
export CMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}
export CMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER:-ccache}
cmake -S "$root" -B "$build" -G Ninja -DPFO3_WERROR=ON -DPFO3_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr > "$work/cmake.log" \
    || { cat "$work/cmake.log"; fail "cmake configure"; }
cmake --build "$build" -j"$(nproc)"
rm -f "$build"/pfo3_*.deb
(cd "$build" && cpack -G DEB > "$work/cpack.log") || { cat "$work/cpack.log"; fail "cpack"; }
debs=("$build"/pfo3_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one pfo3_*.deb in $build, found: ${debs[*]}"
deb=${debs[0]}
echo "built $deb ($(stat -c %s "$deb") bytes)"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for lib in librabbitmq4 libpq5 libcurl4 libsystemd0 libssl3 libtomlplusplus3 libsqlite3-0; do
    tr ',|' '\n\n' <<< "$depends" | awk '{print $1}' | grep -qx "$lib" || fail "Depends: does not name $lib"
done

# --- install -----------------------------------------------------------------------------
step "apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
    > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install"; }
[ "$(dpkg-query -W -f='${Status}' pfo3)" = "install ok installed" ] || fail "not installed: $(dpkg-query -W -f='${Status}' pfo3)"

unit_dir=$(pkg-config --variable=systemdsystemunitdir systemd)
expected=(/usr/bin/pfo3 /etc/pfo3/pfo3.toml
          "$unit_dir/pfo3-serve.service" "$unit_dir/pfo3-worker@.service"
          "$unit_dir/pfo3-workers.target" /usr/lib/sysusers.d/pfo3.conf
          /usr/share/man/man1/pfo3.1 /usr/share/bash-completion/completions/pfo3)
# Every file the package owns, and nothing more (no tests, no libraries, no headers).
dpkg -L pfo3 | while read -r path; do [ -d "$path" ] || echo "$path"; done | sort > "$work/files"
printf '%s\n' "${expected[@]}" | sort > "$work/expected"
diff -u "$work/expected" "$work/files" || fail "dpkg -L pfo3 lists other files than expected (diff above)"
for path in "${expected[@]}"; do [ -f "$path" ] || fail "$path is listed but missing"; done
[ -x /usr/bin/pfo3 ] || fail "/usr/bin/pfo3 is not executable"
dpkg-query -W -f='${Conffiles}\n' pfo3 | grep -q '^ /etc/pfo3/pfo3.toml ' \
    || fail "/etc/pfo3/pfo3.toml is not a conffile"

getent passwd pfo3 > "$work/passwd" || fail "postinst did not create the user pfo3"
IFS=: read -r _ _ uid _ _ _ shell < "$work/passwd"
[ "$uid" -lt 1000 ] || fail "pfo3 is not a system user (uid $uid)"
[[ $shell == */nologin || $shell == /bin/false ]] || fail "pfo3 has a login shell ($shell)"
getent group pfo3 >/dev/null || fail "no group pfo3"
echo "user: $(cat "$work/passwd")"

version=$(pfo3 --version)
[ "$version" = "pfo3 $(dpkg-query -W -f='${Version}' pfo3)" ] \
    || fail "pfo3 --version says '$version', the package is $(dpkg-query -W -f='${Version}' pfo3)"
echo "$version"

man --warnings pfo3 > "$work/man.txt" 2> "$work/man.err" < /dev/null || fail "man pfo3 failed: $(cat "$work/man.err")"
[ ! -s "$work/man.err" ] || { cat "$work/man.err"; fail "man pfo3 renders with warnings"; }
grep -q 'pfo3 serve' "$work/man.txt" || fail "man pfo3 does not show the serve command"

completion=$(bash -c 'source /usr/share/bash-completion/completions/pfo3
                      complete -p pfo3 >/dev/null
                      COMP_WORDS=(pfo3 se); COMP_CWORD=1; _pfo3; echo "${COMPREPLY[*]}"') \
    || fail "the installed bash completion does not load"
[ "$completion" = "serve send" ] || fail "completion of 'pfo3 se' gave '$completion'"

# --- a role from the installed unit file -----------------------------------------------------
# The unit's ExecStart= and User=, run the way systemd would: that user, a clean environment,
# the unit's working directory; setpriv execs (runuser would fork a PAM session between us and
# pfo3, and SIGTERM must reach pfo3 itself).
unit_value() {  # unit_value FILE KEY: the value of the single KEY= line
    local values
    values=$(sed -n "s/^$2=//p" "$1")
    [ "$(printf '%s\n' "$values" | grep -c .)" -eq 1 ] || fail "$1: expected one $2= line, got: $values"
    printf '%s' "$values"
}
start_role() {  # start_role UNIT LOG: starts the unit's command line; its pid in $role_pid
    local file=$unit_dir/$1 log=$2 cmdline user dir
    cmdline=$(unit_value "$file" ExecStart)
    user=$(unit_value "$file" User)
    dir=$(unit_value "$file" WorkingDirectory)
    local -a argv
    read -r -a argv <<< "$cmdline"
    [ "${argv[0]}" = /usr/bin/pfo3 ] || fail "$1: ExecStart runs '${argv[0]}', not the installed /usr/bin/pfo3"
    # StateDirectory= is made by systemd; without one, as it would make it.
    install -d -o "$user" -g "$user" -m 0750 "$dir"
    echo "$1 as $user in $dir: ${argv[*]}"
    (cd "$dir" && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${role_env[@]}" \
        setpriv --reuid="$user" --regid="$user" --init-groups -- "${argv[@]}") > "$log" 2>&1 &
    role_pid=$!
    pids+=("$role_pid")
}
wait_for_log() {  # wait_for_log LOG PATTERN PID: the first matching line, within 60 s
    local deadline=$((SECONDS + 60)) line
    while [ $SECONDS -lt $deadline ]; do
        line=$(grep -m1 -E "$2" "$1" || true)
        [ -n "$line" ] && { printf '%s' "$line"; return 0; }
        kill -0 "$3" 2>/dev/null || { cat "$1" >&2; fail "pid $3 exited before logging /$2/"; }
        sleep 0.2
    done
    cat "$1" >&2
    fail "no /$2/ in $1 within 60 s"
}
stop_role() {  # stop_role PID NAME LOG: SIGTERM, then exit status 0 within 60 s
    local pid=$1 deadline=$((SECONDS + 60)) rc=0
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { cat "$3" >&2; fail "$2 still running 60 s after SIGTERM"; }
    wait "$pid" || rc=$?
    local left=() p
    for p in "${pids[@]}"; do [ "$p" = "$pid" ] || left+=("$p"); done
    pids=("${left[@]}")
    [ $rc -eq 0 ] || { cat "$3" >&2; fail "$2 exited with status $rc after SIGTERM"; }
    echo "$2 stopped by SIGTERM, exit status 0"
}
request() {  # request PORT JSON: one request line over TCP, prints the answer line
    local answer
    exec 3<>"/dev/tcp/127.0.0.1/$1"
    printf '%s\n' "$2" >&3
    IFS= read -r -t 30 answer <&3 || fail "no answer to $2 within 30 s"
    exec 3<&-
    printf '%s' "$answer"
}

# Port 0: any free port, read back from serve's log (no fixed port that could be taken).
role_env=(PFO3_LISTEN=127.0.0.1:0)
if [ -n "${PFO3_TEST_AMQP_URL:-}" ]; then
    queue="pfo3-package-check-$$"
    role_env+=("PFO3_AMQP_URL=$PFO3_TEST_AMQP_URL" "PFO3_QUEUE=$queue")
    step "serve from the installed unit, broker $PFO3_TEST_AMQP_URL, queue $queue"
else
    # Nothing listens on port 1: serve must start anyway and answer ping.
    role_env+=("PFO3_AMQP_URL=amqp://guest:guest@127.0.0.1:1/%2f")
    step "serve from the installed unit, no broker"
fi
start_role pfo3-serve.service "$work/serve.log"
serve_pid=$role_pid
listening=$(wait_for_log "$work/serve.log" 'serve listening .* port=[0-9]+' "$serve_pid")
port=$(sed -E 's/.* port=([0-9]+).*/\1/' <<< "$listening")
[ "$(stat -c %U "/proc/$serve_pid")" = pfo3 ] || fail "serve does not run as pfo3"
answer=$(request "$port" '{"op":"ping"}')
[ "$answer" = '{"ok":true,"op":"pong"}' ] || fail "ping answered '$answer'"
echo "ping on 127.0.0.1:$port: $answer"

if [ -n "$queue" ]; then
    step "a worker from the installed unit; one task through serve into the default store"
    start_role pfo3-worker@.service "$work/work.log"
    work_pid=$role_pid
    wait_for_log "$work/work.log" 'connected to the broker' "$work_pid" > /dev/null
    id="package-check-$$"
    # The broker may still be connecting: serve answers unavailable until it is.
    deadline=$((SECONDS + 60))
    until answer=$(request "$port" "{\"type\":\"sum\",\"payload\":[1,2,3],\"id\":\"$id\"}");
          [[ $answer == *'"ok":true'* ]]; do
        [ $SECONDS -lt $deadline ] || fail "submit answered '$answer' for 60 s"
        sleep 0.5
    done
    deadline=$((SECONDS + 60))
    until answer=$(request "$port" "{\"op\":\"status\",\"id\":\"$id\"}"); [[ $answer == *'"status":"done"'* ]]; do
        [ $SECONDS -lt $deadline ] || fail "status of $id still '$answer' after 60 s"
        sleep 0.5
    done
    [[ $answer == *'"result":6'* ]] || fail "status of $id: '$answer', expected result 6"
    # The shipped config's store: the SQLite file in the units' state directory.
    [ "$(stat -c %U /var/lib/pfo3/results.db)" = pfo3 ] || fail "the result database is not the pfo3 user's"
    row=$(sqlite3 -readonly /var/lib/pfo3/results.db "SELECT status, result FROM pfo3_tasks WHERE id = '$id'")
    [ "$row" = 'done|6' ] || fail "sqlite3 shows '$row' for $id, expected 'done|6'"
    echo "status: $answer"
    stop_role "$work_pid" "work" "$work/work.log"
fi
stop_role "$serve_pid" "serve" "$work/serve.log"

# --- upgrade keeps the configuration ------------------------------------------------------
step "reinstall over a changed /etc/pfo3/pfo3.toml (a conffile: kept)"
echo "# changed by package-check" >> /etc/pfo3/pfo3.toml
dpkg -i "$deb" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i over the installed package"; }
grep -q '^# changed by package-check$' /etc/pfo3/pfo3.toml || fail "reinstalling overwrote /etc/pfo3/pfo3.toml"

# --- remove, then purge --------------------------------------------------------------------
step "apt-get remove (units enabled: prerm must disable them)"
enabled=1
systemctl --quiet enable pfo3-serve.service pfo3-workers.target pfo3-worker@1.service 2> "$work/enable.log" \
    || { cat "$work/enable.log"; fail "systemctl enable"; }
[ -n "$(find /etc/systemd/system -name 'pfo3*')" ] || fail "systemctl enable made no links"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q pfo3 > "$work/apt.log" 2>&1 \
    || { cat "$work/apt.log"; fail "apt-get remove"; }
[ "$(dpkg-query -W -f='${Status}' pfo3)" = "deinstall ok config-files" ] \
    || fail "after remove: $(dpkg-query -W -f='${Status}' pfo3)"
for path in "${expected[@]}"; do
    [ "$path" = /etc/pfo3/pfo3.toml ] && continue
    [ ! -e "$path" ] || fail "$path is still there after apt-get remove"
done
[ -f /etc/pfo3/pfo3.toml ] || fail "remove (not purge) deleted /etc/pfo3/pfo3.toml"
[ -d /var/lib/pfo3 ] || fail "remove (not purge) deleted /var/lib/pfo3"
leftover=$(find /etc/systemd/system -name 'pfo3*')
[ -z "$leftover" ] || fail "enablement links left after remove: $leftover"

step "dpkg --purge"
dpkg --purge pfo3 > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
if dpkg -L pfo3 > /dev/null 2>&1; then fail "dpkg -L pfo3 still answers after purge"; fi
dpkg-query -W -f='${Status}' pfo3 2>/dev/null | grep -qv 'not-installed' && fail "dpkg still knows pfo3"
for path in "${expected[@]}" /etc/pfo3 /var/lib/pfo3 /var/lib/private/pfo3; do
    [ ! -e "$path" ] && [ ! -L "$path" ] || fail "$path is still there after purge"
done
hash -r
command -v pfo3 > /dev/null && fail "pfo3 still on PATH: $(command -v pfo3)"

step "passed in $((SECONDS - started)) s"
