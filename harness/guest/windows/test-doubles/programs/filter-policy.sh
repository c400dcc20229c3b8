# TEST DOUBLE helper (sourced by bin/cmd.exe, bin/powershell, bin/node.exe): the process start as our
# loaded filter sees it. programs/fltmc.ps1 keeps, per loaded filter, what its Parameters key said at
# load: <name>.allowed (enforce mode: the allowed images, one per line, expanded) and <name>.fault (a
# debug build's DebugFault, acted on by programs/filter-model.ps1). Cheap on purpose: every command
# the harness sends starts here.
policy_dir="${FLEETGATE_WINDOWS_DOUBLE:?FLEETGATE_WINDOWS_DOUBLE is not set}/filter-policy"

# allow_start <image>: returns when the image may start, else logs the denial where the product logs
# them (an Application event of the filter's provider, events/Application.jsonl, read by the
# Get-WinEvent double), says what Windows says and exits 1.
allow_start() {
  for policy in "$policy_dir"/*.allowed; do
    [ -f "$policy" ] || continue
    grep -Fixq -- "$1" "$policy" && continue
    filter=$(basename "$policy" .allowed)
    mkdir -p "$policy_dir/../events"
    image=$(printf '%s' "$1" | sed 's/\\/\\\\/g')
    printf '{"time":"%s","provider":"%s","id":1001,"level":"Warning","message":"%s denied the start of %s: not on its allow list"}\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$filter" "$filter" "$image" >> "$policy_dir/../events/Application.jsonl"
    echo 'Access is denied.' >&2
    exit 1
  done
}

# has_fault: true when a loaded filter of ours carries a fault to act on.
has_fault() {
  for f in "$policy_dir"/*.fault; do [ -f "$f" ] && return 0; done
  return 1
}
