using System.Globalization;
using System.Runtime.InteropServices;

namespace LoadGen;

public static class Program
{
    /// <summary>0: done; 1: the run failed; 2: bad command line; 130: interrupted.</summary>
    public static async Task<int> Main(string[] args)
    {
        Options o;
        try
        {
            o = Options.Parse(args);
        }
        catch (UsageException e)
        {
            if (e.Message.Length > 0)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                Console.Error.WriteLine();
            }

            if (e.Message.Length > 0)
            {
                Console.Error.WriteLine(Options.Usage);
                return 2;
            }

            Console.WriteLine(Options.Usage);
            return 0;
        }

        var openFiles = MaxOpenFiles();
        if (openFiles is { } limit && o.Connections + 100 > limit)
        {
            Console.Error.WriteLine($"error: {o.Connections} connections need more than this process's limit of {limit} open files; split them over several LoadGen processes");
            return 2;
        }

        using var cts = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            cts.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        try
        {
            using var probe = new ServerProbe(o.BaseUrl, o.ClockTicks);
            var pid = await probe.ReadPidAsync(cts.Token);
            Console.WriteLine($"target {o.Target.ToString().ToLowerInvariant()} at {o.BaseUrl}, server PID {pid}");
            using var connector = new Connector(o);
            return o.Scenario switch
            {
                Scenario.Echo or Scenario.Events => await EchoScenario.RunAsync(o, probe, connector, cts.Token),
                Scenario.Fanout => await FanoutScenario.RunAsync(o, probe, connector, cts.Token),
                Scenario.Idle => await IdleScenario.RunAsync(o, probe, connector, cts.Token),
                _ => await HoldScenario.RunAsync(o, probe, connector, cts.Token),
            };
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: {e.GetType().Name}: {e.Message}");
            if (e.InnerException is { } inner && inner.Message != e.Message)
            {
                Console.Error.WriteLine($"  caused by {inner.GetType().Name}: {inner.Message}");
            }

            return 1;
        }
    }

    /// <summary>The soft RLIMIT_NOFILE from /proc/self/limits, or null if unknown/unlimited.</summary>
    private static long? MaxOpenFiles()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var soft) ? soft : null;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }
}
