# pg_stat_monitor, the low-memory fork: PGXS build.

MODULE_big = pg_stat_monitor
OBJS = \
	src/pg_stat_monitor.o \
	src/store.o \
	src/text.o \
	src/hooks.o \
	src/functions.o \
	src/worker.o \
	src/export.o \
	src/remote.o \
	src/batch.o \
	src/totals.o
PGFILEDESC = "pg_stat_monitor - query statistics kept in tables"

EXTENSION = pg_stat_monitor
DATA = $(wildcard sql/pg_stat_monitor--*.sql)

# Regression tests run against a temporary server of their own, started
# with the library preloaded (make installcheck, after make install).
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test \
	--temp-config=$(srcdir)/test/pgsm.conf \
	--temp-instance=$(CURDIR)/test/tmp_check

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config

# the worker exports to a repository over libpq (src/remote.c)
PG_CPPFLAGS += -I$(shell $(PG_CONFIG) --includedir)
SHLIB_LINK += -lpq

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers

# TAP tests share helpers in test/perl
PG_PROVE_FLAGS += -I $(srcdir)/test/perl
