# make install / make uninstall (GNU conventions: PREFIX, DESTDIR).
#
#   make install PREFIX=/usr/local DESTDIR=/tmp/stage
#
# installs the headers (include/tslab/), libtslab.a, libtslab.so.VERSION
# (soname libtslab.so.MAJOR, and the symlinks), libtslab_compat.so.VERSION
# (docs/compat.md), tslab.pc and tslab_compat.pc, the CMake package
# (lib/cmake/tslab: tslab::tslab, tslab::tslab_static, tslab::tslab_compat),
# the tools (stats_dump, tslab-trace, tslab-exporter), share/tslab/doctor.yaml
# (stats_dump finds it from its own place), the docs, the man pages
# (docs/man/, plain roff) and the tools' bash completion.
# `make uninstall` (same PREFIX/DESTDIR) removes exactly those files.
# libdir and includedir may be changed but must stay under PREFIX (the
# CMake package finds them relative to itself).
PREFIX ?= /usr/local
DESTDIR ?=
bindir ?= $(PREFIX)/bin
libdir ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
datadir ?= $(PREFIX)/share
mandir ?= $(datadir)/man
docdir ?= $(datadir)/doc/tslab
pkgconfigdir ?= $(libdir)/pkgconfig
cmakedir ?= $(libdir)/cmake/tslab
bashcompdir ?= $(datadir)/bash-completion/completions
INSTALL ?= install

INSTALL_TOOLS := stats_dump tslab-trace tslab-exporter
INSTALL_HEADERS := $(wildcard include/tslab/*.h include/tslab/*.hpp include/tslab/compat/*.h)
INSTALL_MAN := $(wildcard docs/man/*.[1-8])
INSTALL_DOCS := README.md $(wildcard docs/*.md)
INSTALL_EXAMPLES := configs/prometheus/tslab-alerts.yml configs/prometheus/prometheus.yml \
  configs/systemd/tslab-exporter.service
PKG := $(BUILD)/pkg
INSTALL_COMPLETIONS := $(addprefix $(PKG)/completions/,stats_dump tslab-trace tslab-exporter)
PKG_FILES := $(PKG)/tslab.pc $(PKG)/tslab_compat.pc $(PKG)/tslab-config.cmake \
  $(PKG)/tslab-config-version.cmake

LIBDIR_REL := $(patsubst $(PREFIX)/%,%,$(libdir))
INCLUDEDIR_REL := $(patsubst $(PREFIX)/%,%,$(includedir))
CMAKEDIR_REL := $(patsubst $(PREFIX)/%,%,$(cmakedir))
CMAKE_UP := $(shell echo '$(CMAKEDIR_REL)' | sed 's|[^/][^/]*|..|g')

# The generated files depend on the install paths: rewritten each run
# (cheap), so a new PREFIX never installs a stale .pc.
.PHONY: pkg-files
$(PKG)/%: packaging/%.in FORCE
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(libdir)|g' \
	  -e 's|@INCLUDEDIR@|$(includedir)|g' -e 's|@VERSION@|$(TSLAB_VERSION)|g' \
	  -e 's|@MAJOR@|$(TSLAB_VERSION_MAJOR)|g' -e 's|@LIBDIR_REL@|$(LIBDIR_REL)|g' \
	  -e 's|@INCLUDEDIR_REL@|$(INCLUDEDIR_REL)|g' -e 's|@CMAKE_REL@|$(CMAKEDIR_REL)|g' \
	  -e 's|@CMAKE_UP@|$(CMAKE_UP)|g' $< > $@.tmp && mv $@.tmp $@
$(PKG)/completions/%: packaging/bash-completion/%
	@mkdir -p $(dir $@)
	$(Q)cp $< $@
$(PKG)/completions/tslab-trace: packaging/bash-completion/tslab-trace.in src/usdt/tslab_probes.h
	@mkdir -p $(dir $@)
	$(Q)sed "s|@PROBES@|$$(sed -n 's/^ *X(\([a-z_]*\),.*/\1/p' src/usdt/tslab_probes.h | tr '\n' ' ' | sed 's/ $$//')|" $< > $@
pkg-files: $(PKG_FILES) $(INSTALL_COMPLETIONS)
.PHONY: FORCE
FORCE:

.PHONY: install uninstall install-check
install-check:
	@for d in '$(libdir)' '$(includedir)' '$(cmakedir)'; do \
	  case "$$d" in '$(PREFIX)'/*) ;; *) echo "make install: $$d is not under PREFIX=$(PREFIX)" >&2; exit 2;; esac; \
	done

install: install-check lib $(addprefix $(BIN)/,$(INSTALL_TOOLS)) pkg-files
	$(Q)$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) $(DESTDIR)$(pkgconfigdir) \
	  $(DESTDIR)$(cmakedir) $(DESTDIR)$(includedir)/tslab/compat $(DESTDIR)$(datadir)/tslab \
	  $(DESTDIR)$(docdir)/examples $(DESTDIR)$(bashcompdir) \
	  $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man3 $(DESTDIR)$(mandir)/man8
	$(Q)for h in $(INSTALL_HEADERS); do \
	  $(INSTALL) -m 644 $$h $(DESTDIR)$(includedir)/$${h#include/}; done
	$(Q)$(INSTALL) -m 644 $(LIBTSLAB_A) $(DESTDIR)$(libdir)/
	$(Q)for l in libtslab libtslab_compat; do \
	  $(INSTALL) -m 755 $(LIBDIR)/$$l.so.$(TSLAB_VERSION) $(DESTDIR)$(libdir)/ && \
	  ln -sf $$l.so.$(TSLAB_VERSION) $(DESTDIR)$(libdir)/$$l.so.$(TSLAB_VERSION_MAJOR) && \
	  ln -sf $$l.so.$(TSLAB_VERSION_MAJOR) $(DESTDIR)$(libdir)/$$l.so; done
	$(Q)ln -sf libtslab.a $(DESTDIR)$(libdir)/libtslab_compat.a
	$(Q)$(INSTALL) -m 644 $(PKG)/tslab.pc $(PKG)/tslab_compat.pc $(DESTDIR)$(pkgconfigdir)/
	$(Q)$(INSTALL) -m 644 $(PKG)/tslab-config.cmake $(PKG)/tslab-config-version.cmake \
	  $(DESTDIR)$(cmakedir)/
	$(Q)$(INSTALL) -m 755 $(addprefix $(BIN)/,$(INSTALL_TOOLS)) $(DESTDIR)$(bindir)/
	$(Q)$(INSTALL) -m 644 configs/doctor.yaml $(DESTDIR)$(datadir)/tslab/doctor.yaml
	$(Q)$(INSTALL) -m 644 $(INSTALL_DOCS) $(DESTDIR)$(docdir)/
	$(Q)$(INSTALL) -m 644 $(INSTALL_EXAMPLES) $(DESTDIR)$(docdir)/examples/
	$(Q)for m in $(INSTALL_MAN); do \
	  $(INSTALL) -m 644 $$m $(DESTDIR)$(mandir)/man$${m##*.}/; done
	$(Q)$(INSTALL) -m 644 $(INSTALL_COMPLETIONS) $(DESTDIR)$(bashcompdir)/
	@echo "installed tslab $(TSLAB_VERSION) into $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR)$(includedir)/,$(patsubst include/%,%,$(INSTALL_HEADERS))) \
	  $(addprefix $(DESTDIR)$(libdir)/,libtslab.a libtslab_compat.a \
	    $(foreach l,libtslab libtslab_compat,$(l).so $(l).so.$(TSLAB_VERSION_MAJOR) $(l).so.$(TSLAB_VERSION))) \
	  $(DESTDIR)$(pkgconfigdir)/tslab.pc $(DESTDIR)$(pkgconfigdir)/tslab_compat.pc \
	  $(DESTDIR)$(cmakedir)/tslab-config.cmake $(DESTDIR)$(cmakedir)/tslab-config-version.cmake \
	  $(addprefix $(DESTDIR)$(bindir)/,$(INSTALL_TOOLS)) \
	  $(DESTDIR)$(datadir)/tslab/doctor.yaml \
	  $(addprefix $(DESTDIR)$(docdir)/,$(notdir $(INSTALL_DOCS))) \
	  $(addprefix $(DESTDIR)$(docdir)/examples/,$(notdir $(INSTALL_EXAMPLES))) \
	  $(foreach m,$(INSTALL_MAN),$(DESTDIR)$(mandir)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
	  $(addprefix $(DESTDIR)$(bashcompdir)/,$(notdir $(INSTALL_COMPLETIONS)))
	$(Q)for d in $(includedir)/tslab/compat $(includedir)/tslab $(cmakedir) \
	  $(datadir)/tslab $(docdir)/examples $(docdir); do \
	  rmdir $(DESTDIR)$$d 2>/dev/null || true; done
	@echo "removed tslab $(TSLAB_VERSION) from $(DESTDIR)$(PREFIX)"
