/*
 * syscost.c: what the calls the collectors make for every statement cost
 * on this machine, in nanoseconds per call.  Built and run by bench/tps.sh.
 */
#define _GNU_SOURCE				/* RUSAGE_THREAD */
#include <stdio.h>
#include <time.h>
#include <sys/resource.h>

#define LOOPS 1000000

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(void)
{
	struct rusage ru;
	struct timespec ts;
	double		t0;

	t0 = seconds();
	for (int i = 0; i < LOOPS; i++)
		getrusage(RUSAGE_SELF, &ru);
	printf("getrusage(RUSAGE_SELF)\t%.0f\n", (seconds() - t0) * 1e9 / LOOPS);

#ifdef RUSAGE_THREAD
	t0 = seconds();
	for (int i = 0; i < LOOPS; i++)
		getrusage(RUSAGE_THREAD, &ru);
	printf("getrusage(RUSAGE_THREAD)\t%.0f\n", (seconds() - t0) * 1e9 / LOOPS);
#endif

	t0 = seconds();
	for (int i = 0; i < LOOPS; i++)
		clock_gettime(CLOCK_REALTIME, &ts);
	printf("clock_gettime(CLOCK_REALTIME)\t%.0f\n", (seconds() - t0) * 1e9 / LOOPS);

	t0 = seconds();
	for (int i = 0; i < LOOPS; i++)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("clock_gettime(CLOCK_MONOTONIC)\t%.0f\n", (seconds() - t0) * 1e9 / LOOPS);

	t0 = seconds();
	for (int i = 0; i < LOOPS; i++)
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	printf("clock_gettime(CLOCK_THREAD_CPUTIME_ID)\t%.0f\n", (seconds() - t0) * 1e9 / LOOPS);
	return 0;
}
