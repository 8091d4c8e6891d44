#!/usr/bin/env bash
# Regenerates vectors.json and CASES.md in this directory from Apache Kafka's real JsonConverter.
#
#   tests/vectors/jsonconverter/gen.sh
#
# Needs: java 17+ and mvn (Maven Central reachable on first run).
# Jars are cached in ${KCONNECT_CACHE:-$HOME/.cache/kconnect-test}/jsonconverter-jars/<version>;
# a later run with the cache filled makes no Maven call at all.
# Env: KAFKA_VERSION (default 4.1.1) to try another connect-json version.
# All Maven output goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
CACHE_ROOT="${KCONNECT_CACHE:-$HOME/.cache/kconnect-test}/jsonconverter-jars"
JARS="$CACHE_ROOT/$KAFKA_VERSION"
STAMP="$JARS/.complete"

if [[ ! -f "$STAMP" ]]; then
    echo "gen.sh: fetching org.apache.kafka:connect-json:$KAFKA_VERSION and dependencies into $JARS" >&2
    WORK="$(mktemp -d)"
    cat > "$WORK/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kconnect</groupId>
  <artifactId>jsonconverter-vectors-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>connect-json</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    rm -rf "$JARS"
    mkdir -p "$JARS"
    mvn -B -q -Dstyle.color=never -f "$WORK/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$JARS" 1>&2
    rm -rf "$WORK"
    ls "$JARS"/connect-json-"$KAFKA_VERSION".jar >/dev/null
    touch "$STAMP"
fi

cd "$HERE"
# Write to temp files first so a failed run never leaves a half-written artefact.
trap 'rm -f "$HERE/vectors.json.tmp" "$HERE/CASES.md.tmp"' EXIT
java -Dkconnect.expectKafka="$KAFKA_VERSION" -cp "$JARS/*" GenVectors.java vectors.json.tmp CASES.md.tmp
mv vectors.json.tmp vectors.json
mv CASES.md.tmp CASES.md
echo "gen.sh: wrote $HERE/vectors.json and $HERE/CASES.md" >&2
