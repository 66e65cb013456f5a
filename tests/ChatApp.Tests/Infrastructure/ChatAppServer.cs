using System.Globalization;

namespace ChatApp.Tests.Infrastructure;

/// <summary>
/// The ChatApp sample as a user runs it: <c>dotnet ChatApp.dll --urls http://127.0.0.1:port</c> from the project
/// folder, in a child process that a test can kill (as a crash would) and start again on the same port.
/// </summary>
internal sealed class ChatAppServer : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    private readonly string[] _arguments;
    private readonly List<string> _pastOutput = [];
    private ChildProcess? _process;

    private ChatAppServer(int port, string[] arguments)
    {
        Port = port;
        _arguments = arguments;
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>A client for the app's HTTP API.</summary>
    public HttpClient Http { get; }

    /// <summary>What every run of the app printed, for failure messages.</summary>
    public string Output => string.Join("\n--- restarted ---\n", [.. _pastOutput, _process?.Output ?? ""]);

    /// <summary>Starts the app on a free port; <paramref name="arguments"/> are added, e.g. <c>--redis host:port</c>.</summary>
    public static async Task<ChatAppServer> StartAsync(params string[] arguments)
    {
        var server = new ChatAppServer(FreePort.Next(), arguments);
        await server.StartProcessAsync();
        return server;
    }

    public Uri WebSocketUri(string path) => new($"ws://127.0.0.1:{Port}{path}");

    /// <summary>Kills the app at once: no graceful shutdown, no close frames.</summary>
    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            await process.DisposeAsync();
            _pastOutput.Add(process.Output);
            _process = null;
        }
    }

    /// <summary>Starts the app again on the same port.</summary>
    public Task RestartAsync() => StartProcessAsync();

    private async Task StartProcessAsync()
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        string[] arguments = [Paths.ChatAppDll, "--urls", $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}", .. _arguments];

        // The project folder is the content root, as with `dotnet run`: the page is served from its wwwroot.
        var process = ChildProcess.Start(dotnet, arguments, Paths.ChatAppProject, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_NOLOGO"] = "1",
        });
        _process = process;
        await process.WaitForLineAsync("Application started", s_startTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await KillAsync();
    }
}
