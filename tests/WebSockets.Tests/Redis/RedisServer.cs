using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using WebSockets.Redis.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>
/// A real redis-server of the test's own, on a free loopback port, without persistence, so that a restart starts empty.
/// It can be killed (as a crash would) and started again on the same port. It fails loudly when redis-server is not
/// installed: .ci/test installs it.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    public const string Executable = "/usr/bin/redis-server";

    private Process? _process;
    private RedisClient? _client;

    private RedisServer(int port) => Port = port;

    public int Port { get; }

    /// <summary>The backplane's configuration string for this server.</summary>
    public string Configuration => $"127.0.0.1:{Port},connectTimeout=2000";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            throw new InvalidOperationException($"{Executable} is not installed. Run 'bash .ci/test', which installs it, or 'apt-get install -y redis-server'.");
        }

        var server = new RedisServer(FreePort());
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Kills the server at once, as a crash would: no shutdown, nothing saved.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            process.Kill();
            await process.WaitForExitAsync().DefaultTimeout();
            process.Dispose();
            _process = null;
        }
    }

    /// <summary>Starts the server again on the same port, empty.</summary>
    public Task RestartAsync() => StartProcessAsync();

    /// <summary>Runs a command with the test's own connection, waiting for it to be connected (with a deadline).</summary>
    public async Task<RedisReply> CommandAsync(params RedisArg[] args)
    {
        _client ??= CreateClient("test", onConnecting: null, onPush: null);
        await Poll.UntilAsync(() => _client.IsConnected, $"the test's connection to Redis on port {Port}");
        return (await _client.ExecuteAsync(args).DefaultTimeout()).ThrowIfError();
    }

    /// <summary>A client of this server, for example a subscriber that watches a channel.</summary>
    public RedisClient CreateClient(string role, Func<RedisClient.Connection, Task>? onConnecting, Func<RedisReply, ValueTask>? onPush)
    {
        var failures = new List<string>();
        var endpoint = RedisEndpoint.Parse(Configuration, failures)!;
        var client = new RedisClient(role, endpoint, null, onConnecting, onPush, NullLogger.Instance, TimeProvider.System, TimeSpan.FromMilliseconds(200));
        client.Start();
        return client;
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        // Ready when it accepts connections.
        await Poll.UntilAsync(
            () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} on port {Port}.");
                }

                try
                {
                    using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    socket.Connect(IPAddress.Loopback, Port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            $"redis-server to listen on port {Port}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        await KillAsync();
    }
}

/// <summary>Polls a condition until it holds or a deadline passes: for states that no signal announces.</summary>
internal static class Poll
{
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(20);

    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? deadline = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var limit = deadline ?? DefaultDeadline;
        while (!condition())
        {
            if (stopwatch.Elapsed > limit)
            {
                throw new TimeoutException($"Waited {limit} for {what}.");
            }

            await Task.Delay(25);
        }
    }

    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? deadline = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var limit = deadline ?? DefaultDeadline;
        while (true)
        {
            var value = await probe().DefaultTimeout();
            if (condition(value))
            {
                return value;
            }

            if (stopwatch.Elapsed > limit)
            {
                throw new TimeoutException($"Waited {limit} for {what}.");
            }

            await Task.Delay(25);
        }
    }
}
