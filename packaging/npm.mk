# npm packages: dist-npm builds them into dist/, dist-test-npm installs and uses them (included by the Makefile).
#
# The napi-rs layout: the main package @omnitron-dev/native (the TypeScript layer with its types and
# napi's loader native.js) and a package per platform holding the addon, built in the `dist` profile
# (bindings/node/npm/<platform>/, made by `napi create-npm-dirs` from package.json's napi.targets;
# this machine: @omnitron-dev/native-linux-x64-gnu). The main package lists every per-platform
# package as an optional dependency at its exact version; packaging/npm/stage.js adds them to the
# packed package.json only (as `napi pre-publish` does), so that the repository's own `npm ci` does
# not look for packages that are not published yet.
.PHONY: dist-npm dist-test-npm

NPM_STAGE := target/npm
# napi's name for this platform (linux-x64-gnu): the per-platform package's suffix.
NPM_PLATFORM = $(shell node -p 'const r = process.report.getReport().header; [process.platform, process.arch].concat(process.platform === "linux" ? [r.glibcVersionRuntime ? "gnu" : "musl"] : []).join("-")')
NPM_MAIN_TGZ = $(DIST)/omnitron-dev-native-$(VERSION).tgz
NPM_PLATFORM_TGZ = $(DIST)/omnitron-dev-native-$(NPM_PLATFORM)-$(VERSION).tgz
# The test project's compiler, the repository's own versions.
NPM_DEV_VERSION = $(shell node -p 'require("./$(NODE)/package.json").devDependencies["$(1)"]')

dist-npm: $(NODE)/node_modules/.installed dist-cli
	@echo "== npm packages: the addon in the dist profile, the TypeScript layer, npm pack into dist/"
	rm -rf $(NPM_STAGE) && mkdir -p $(NPM_STAGE)/native $(DIST)
	$(NAPI) build --cwd $(NODE) --platform --profile dist --manifest-path Cargo.toml \
	  --output-dir $(CURDIR)/$(NPM_STAGE)/native --js native.js --dts native.d.ts
	@# The loader and typings shipped are the committed ones (what make drift-check holds the dev build to).
	@cmp -s $(NPM_STAGE)/native/native.js $(NODE)/native.js && cmp -s $(NPM_STAGE)/native/native.d.ts $(NODE)/native.d.ts \
	  || { echo "the dist build's native.js / native.d.ts differ from the committed ones: make build-node and commit them"; exit 1; }
	@[ "$$(readelf -S $(NPM_STAGE)/native/omnitron.$(NPM_PLATFORM).node | grep -c '\.symtab' || true)" = 0 ] \
	  || { echo "the addon still has its symbol table: is the dist profile stripped?"; exit 1; }
	@size=$$(stat -c %s $(NPM_STAGE)/native/omnitron.$(NPM_PLATFORM).node); [ $$size -lt 10485760 ] \
	  || echo "warning: the addon is $$size bytes, more than 10 MiB"
	@# The TypeScript once, without source maps (the sources are not shipped).
	$(TSC) -p $(NODE)/tsconfig.json --outDir $(NPM_STAGE)/native/dist --sourceMap false
	rm -f $(DIST)/omnitron-dev-native-*.tgz
	@for dir in $$(node packaging/npm/stage.js $(NODE) $(NPM_STAGE) $(VERSION) $(DIST_OUT)/omnitron); do \
	  (cd $$dir && npm pack --pack-destination $(DIST) --loglevel=warn > /dev/null) || exit 1; \
	done
	@bad=$$(tar -tzf $(NPM_MAIN_TGZ) | grep -vE '^package/(package\.json|README\.md|native\.(js|d\.ts)|dist/.+\.(js|d\.ts))$$' || true); \
	  [ -z "$$bad" ] || { echo "files a user does not need in $(NPM_MAIN_TGZ): $$bad"; exit 1; }
	@bad=$$(tar -tzf $(NPM_PLATFORM_TGZ) | grep -vxE 'package/(package\.json|README\.md|omnitron|omnitron\.$(NPM_PLATFORM)\.node)' || true); \
	  [ -z "$$bad" ] || { echo "files a user does not need in $(NPM_PLATFORM_TGZ): $$bad"; exit 1; }
	@ls -l $(NPM_MAIN_TGZ) $(NPM_PLATFORM_TGZ)

# Installs both tarballs into a fresh project outside the repository (Node's resolution walks up
# the parent directories: nothing of the repository may be found), compiles the README's TypeScript
# quick start exactly as written (the first ```ts block under "### TypeScript") with tsc and runs it,
# runs a @ProcessPool whose Node workers start from the installed worker entry, and prints the sizes
# and the time `require('@omnitron-dev/native')` takes (median of 5 fresh node processes). The
# directory is removed when everything passed, kept (and named) otherwise.
dist-test-npm: dist-npm
	@echo "== npm packages installed from dist/ into a fresh project, the README's quick start and a process pool"
	@t=$$(mktemp -d /tmp/omnitron-npm.XXXXXX); \
	  trap 'echo "failed: the test project is kept in $$t"' ERR; \
	  cp packaging/npm/project/tsconfig.json packaging/npm/project/worker.ts packaging/npm/project/pool.ts $$t/; \
	  awk '/^### TypeScript$$/ {f = 1; next} f && /^```ts$$/ {p = 1; next} p && /^```$$/ {exit} p' README.md > $$t/quickstart.ts; \
	  test -s $$t/quickstart.ts || { echo "no TypeScript snippet found in README.md"; false; }; \
	  cd $$t; \
	  npm init -y > /dev/null; \
	  npm install --no-audit --no-fund --save-exact --loglevel=error $(NPM_MAIN_TGZ) $(NPM_PLATFORM_TGZ) \
	    typescript@$(call NPM_DEV_VERSION,typescript) @types/node@$(call NPM_DEV_VERSION,@types/node); \
	  npm ls --all > /dev/null; \
	  opt=$$(node -p 'JSON.stringify(require("@omnitron-dev/native/package.json").optionalDependencies)'); \
	  [ "$$opt" = '{"@omnitron-dev/native-$(NPM_PLATFORM)":"$(VERSION)"}' ] \
	    || { echo "the main package's optionalDependencies: $$opt"; false; }; \
	  ! grep -rl --include='*.js' --include='*.json' '$(CURDIR)' node_modules/@omnitron-dev \
	    || { echo "a path into the repository in the installed packages"; false; }; \
	  node_modules/.bin/tsc -p .; \
	  out=$$(node out/quickstart.js); \
	  [ "$$out" = "postgres://demo" ] || { echo "the README's TypeScript quick start printed '$$out', not postgres://demo"; false; }; \
	  echo "README quick start: $$out"; \
	  node out/pool.js; \
	  [[ "$$(node_modules/.bin/omnitron-node-worker --help)" == "usage: omnitron-node-worker"* ]] \
	    || { echo "the omnitron-node-worker bin does not run"; false; }; \
	  [ "$$(npx --no-install omnitron --version)" = "omnitron $(VERSION)" ] \
	    || { echo "npx omnitron --version did not answer omnitron $(VERSION)"; false; }; \
	  npx --no-install omnitron init probe --template ts > /dev/null && [ -f probe/omnitron.yaml ] \
	    || { echo "npx omnitron init did not make a project"; false; }; \
	  times=$$(for i in 1 2 3 4 5; do \
	    node -e 'const t = process.hrtime.bigint(); require("@omnitron-dev/native"); console.log((Number(process.hrtime.bigint() - t) / 1e6).toFixed(1))'; \
	  done | sort -n | xargs); \
	  node_bytes=$$(stat -c %s node_modules/@omnitron-dev/native-$(NPM_PLATFORM)/omnitron.$(NPM_PLATFORM).node); \
	  cd $(CURDIR); rm -rf $$t; \
	  mib() { awk -v b=$$1 'BEGIN { printf "%.2f MiB (%d bytes)", b / 1048576, b }'; }; \
	  echo "size: $$(basename $(NPM_MAIN_TGZ)) $$(mib $$(stat -c %s $(NPM_MAIN_TGZ)))"; \
	  echo "size: $$(basename $(NPM_PLATFORM_TGZ)) $$(mib $$(stat -c %s $(NPM_PLATFORM_TGZ)))"; \
	  echo "size: omnitron.$(NPM_PLATFORM).node installed $$(mib $$node_bytes)"; \
	  echo "require('@omnitron-dev/native'): median $$(echo $$times | cut -d' ' -f3) ms of 5 fresh node processes ($$times ms)"
	@echo "npm packages: installed from dist/ and used outside the repository"
