# bash completion for dmarcsift                                  -*- shell-script -*-
#
# Subcommands and options come from the binary's own --help ('dmarcsift
# --help' lists the commands, 'dmarcsift COMMAND --help' names the options),
# so the completion never lags behind the program; the second words (tenant
# add, db start, ...) are listed here. Installed as
# share/bash-completion/completions/dmarcsift.

# The help text of "$@" (a binary and a command), asked once per shell.
declare -gA _dmarcsift_help_cache 2>/dev/null || true
_dmarcsift_help()
{
	local key="$*"
	if [[ -z ${_dmarcsift_help_cache[$key]+set} ]]; then
		_dmarcsift_help_cache[$key]=$("$@" --help 2>/dev/null)
	fi
	printf '%s\n' "${_dmarcsift_help_cache[$key]}"
}

_dmarcsift()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	local bin=${COMP_WORDS[0]}
	bin=${bin/#\~/$HOME}
	COMPREPLY=()

	if ((COMP_CWORD == 1)); then
		local cmds
		cmds=$(_dmarcsift_help "$bin" | awk '/^commands:/ { on = 1; next }
			on && /^$/ { exit } on { print $1 }')
		mapfile -t COMPREPLY < <(compgen -W "$cmds --help --version" -- "$cur")
		return
	fi

	local cmd=${COMP_WORDS[1]} help
	help=$(_dmarcsift_help "$bin" "$cmd")

	case $prev in
	--format | --input-format)
		# every value list the help shows for it (e.g. --format text|json|csv)
		local vals
		vals=$(grep -oE -- "$prev [a-z]+(\|[a-z]+)+" <<<"$help" | cut -d' ' -f2 | tr '|' '\n')
		mapfile -t COMPREPLY < <(compgen -W "$vals" -- "$cur")
		return
		;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W "text journald syslog" -- "$cur")
		return
		;;
	--config | --rules | --services | --mta-hosts | --out)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--db | --tenant | --since | --until | --days | --floor | --budget | --every | \
		--older-than | --mailbox | --kind | --table | --mail-to | --dns-servers | \
		--fetch-timeout)
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		local opts
		opts=$(grep -oE -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u)
		mapfile -t COMPREPLY < <(compgen -W "$opts --help" -- "$cur")
		return
	fi

	if ((COMP_CWORD == 2)); then
		local verbs=
		case $cmd in
		tenant) verbs="add list show domain rename remove import grant revoke" ;;
		db) verbs="start stop status url migrate init" ;;
		bounces) verbs="classify ingest" ;;
		failures) verbs="dismiss" ;;
		blocklists) verbs="check list" ;;
		dns) verbs="check changes" ;;
		sources) verbs="resolve load label unlabel" ;;
		config) verbs="check" ;;
		esac
		if [[ -n $verbs ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
			return
		fi
	fi
	if [[ $cmd == tenant && ${COMP_WORDS[2]} == domain && COMP_CWORD -eq 3 ]]; then
		mapfile -t COMPREPLY < <(compgen -W "add remove" -- "$cur")
		return
	fi
	# Paths otherwise (complete -o default falls back to file names).
}
complete -o default -F _dmarcsift dmarcsift
