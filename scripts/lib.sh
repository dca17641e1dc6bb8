# Shared by the scripts: paths and the build step. Source it; do not run it.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/target/retain.jar"

# Builds target/retain.jar and target/lib when missing or older than the sources.
ensure_built() {
  "$root/scripts/setup.sh" --quiet
  if [[ ! -f "$jar" || ! -d "$root/target/lib" \
        || -n "$(find "$root/src/main" "$root/pom.xml" -newer "$jar" -print -quit)" ]]; then
    echo "building retain (mvn package)..." >&2
    (cd "$root" && mvn -q -B -DskipTests -Dspotless.check.skip=true package >&2)
  fi
}
