/*
 * syscost.c: what the calls the collectors make for every statement cost
 * on this machine, in nanoseconds per call.  Built and run by bench/tps.sh.
 *
 * "syscost steps": how often the thread's CPU time as getrusage() gives it
 * moves on, over 2 s of calls in a loop: calls, changes seen, the largest
 * change in microseconds.
 */
#define _GNU_SOURCE				/* RUSAGE_THREAD */
#include <stdio.h>
#include <string.h>
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

static long
cpu_us(void)
{
	struct rusage ru;

#ifdef RUSAGE_THREAD
	getrusage(RUSAGE_THREAD, &ru);
#else
	getrusage(RUSAGE_SELF, &ru);
#endif
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L +
		ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void
steps(void)
{
	double		t0 = seconds();
	long		calls = 0;
	long		changes = 0;
	long		largest = 0;
	long		last = cpu_us();

	while (seconds() - t0 < 2.0)
	{
		long		now = cpu_us();

		calls++;
		if (now != last)
		{
			changes++;
			if (now - last > largest)
				largest = now - last;
			last = now;
		}
	}
	printf("%ld\t%ld\t%ld\n", calls, changes, largest);
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	struct timespec ts;
	double		t0;

	if (argc > 1 && strcmp(argv[1], "steps") == 0)
	{
		steps();
		return 0;
	}

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
