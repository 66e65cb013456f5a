using System.Globalization;

namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// A private redis-server on a free loopback port, without persistence, as tests/WebSockets.Tests/Redis/RedisServer.cs
/// starts one (that fixture depends on the backplane's internal client, so it is not shared). Installed when missing.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RedisServer(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>What the app takes as <c>--redis</c>.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        await Prerequisites.EnsureRedisServerAsync();
        var port = FreePort.Next();
        var process = ChildProcess.Start(
            Prerequisites.RedisServer,
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"],
            Path.GetTempPath());
        try
        {
            await process.WaitForLineAsync("Ready to accept connections", TimeSpan.FromSeconds(30));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        return new RedisServer(process, port);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
