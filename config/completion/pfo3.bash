# bash completion for pfo3 (installed as share/bash-completion/completions/pfo3).
# Plain bash: needs nothing from the bash-completion package. The words are those of
# `pfo3 --help` and `pfo3 COMMAND --help`; test/integration/test_package.py fails when they part.

_pfo3_files() {
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    # Directories get their slash; outside a completion (a test calling _pfo3) there is no compopt.
    compopt -o filenames 2>/dev/null || true
}

_pfo3() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}
    local global="--help --config --log-level --log-format"

    # Values of the options that take one we can offer.
    case $prev in
        --config|--token-file|--tokens-file|--ca-file|--cert-file|--key-file) _pfo3_files; return 0 ;;
        --log-level)  mapfile -t COMPREPLY < <(compgen -W "trace debug info warn error" -- "$cur"); return 0 ;;
        --log-format) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur"); return 0 ;;
        --type)       mapfile -t COMPREPLY < <(compgen -W "echo sum sumar multiply multiplicar sleep" -- "$cur"); return 0 ;;
        --listen|--http-listen|--http|--amqp|--queue|--store|--server|--prefetch|--concurrency|--limit|-n|--tasks|\
        -c|--connections|-w|--window|--payload-bytes|--payload|--rate|--results-timeout|\
        --serve-pid|--worker-pids|--cpu-pids|--label|--broker-messages|--broker-window|\
        --broker-prefetch|--at|--in|--priority|--reason|--scopes|--server-name|--management)
            COMPREPLY=(); return 0 ;;
    esac

    # The command (and for dead and token their subcommand): the first words that are not options or the
    # values of the options before them.
    local i word command= sub=
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            --config|--log-level|--log-format|--amqp|--queue|--tokens-file|--scopes|--management) ((i++)); continue ;;
            -*) continue ;;
        esac
        if [ -z "$command" ]; then command=$word
        elif [[ $command == dead || $command == token || $command == admin ]] && [ -z "$sub" ]; then sub=$word
        fi
    done

    # bench --json names a file; send --json and dead list --json are flags.
    if [ "$command" = bench ] && [ "$prev" = --json ]; then
        _pfo3_files
        return 0
    fi

    # Words that are not options: the command, dead's subcommand; payloads and ids have no list.
    if [[ $cur != -* ]]; then
        case $command/$sub in
            /)     mapfile -t COMPREPLY < <(compgen -W "serve work send bench status dead cancel token workers admin" -- "$cur") ;;
            dead/) mapfile -t COMPREPLY < <(compgen -W "list requeue purge" -- "$cur") ;;
            token/) mapfile -t COMPREPLY < <(compgen -W "new list revoke" -- "$cur") ;;
            admin/) mapfile -t COMPREPLY < <(compgen -W "queues" -- "$cur") ;;
            *)     COMPREPLY=() ;;
        esac
        return 0
    fi

    local words client="--token-file --tls --ca-file --cert-file --key-file --server-name"
    case $command in
        "")     words="$global --version" ;;
        serve)  words="--listen --amqp --queue --http-listen --metrics --no-metrics" ;;
        work)   words="--prefetch --concurrency --amqp --queue --store --http-listen --metrics --no-metrics" ;;
        send)   words="--server --type --json --wait --at --in --priority $client" ;;
        status) words="--server $client" ;;
        cancel) words="--server --reason $client" ;;
        workers) words="--http --json --token-file" ;;
        bench)  words="--server --tasks --connections --window --payload-bytes --payload --type
                       --rate --store --no-results --results-timeout --serve-pid --worker-pids
                       --cpu-pids --json --label --broker-ceiling --broker-only --amqp
                       --broker-messages --broker-window --broker-prefetch $client" ;;
        dead)   local path="--server --direct --amqp --queue $client"
                case $sub in
                    "")      words="$path" ;;
                    list)    words="--limit --json $path" ;;
                    requeue) words="--all $path" ;;
                    purge)   words="--yes $path" ;;
                esac ;;
        admin)  case $sub in
                    queues) words="--management --amqp --queue" ;;
                esac ;;
        token)  case $sub in
                    "")     words="--tokens-file" ;;
                    new)    words="--scopes --tokens-file" ;;
                    list|revoke) words="--tokens-file" ;;
                esac ;;
    esac
    # Global options are accepted after the command too.
    [ -n "$command" ] && words="$words $global"
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    return 0
}

complete -F _pfo3 pfo3
