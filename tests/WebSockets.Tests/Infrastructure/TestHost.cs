using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Internal;

namespace WebSockets.Tests.Infrastructure;

/// <summary>
/// A real Kestrel server on 127.0.0.1 with an ephemeral port, built from the same WebApplication API users write.
/// </summary>
internal sealed class TestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestHost(WebApplication app, TestLoggerProvider logs)
    {
        _app = app;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        BaseUri = new Uri(address);
    }

    public Uri BaseUri { get; }

    public IServiceProvider Services => _app.Services;

    public TestLoggerProvider Logs { get; }

    public ISocketRegistry Registry => Services.GetRequiredService<ISocketRegistry>();

    internal SocketRegistry RegistryInternal => Services.GetRequiredService<SocketRegistry>();

    public static async Task<TestHost> StartAsync(Action<IServiceCollection> configureServices, Action<WebApplication> configureApp)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var logs = new TestLoggerProvider();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);

        // A provider-specific filter outranks the "Logging" section of any appsettings.json in the content root.
        builder.Logging.AddFilter<TestLoggerProvider>(null, LogLevel.Debug);
        configureServices(builder.Services);
        var app = builder.Build();
        configureApp(app);
        await app.StartAsync().DefaultTimeout();
        return new TestHost(app, logs);
    }

    public Uri WebSocketUri(string path)
    {
        var builder = new UriBuilder(BaseUri) { Scheme = "ws" };
        var query = path.IndexOf('?');
        if (query >= 0)
        {
            builder.Path = path[..query];
            builder.Query = path[(query + 1)..];
        }
        else
        {
            builder.Path = path;
        }

        return builder.Uri;
    }

    public Uri HttpUri(string path) => new(BaseUri, path);

    public async Task<ClientWebSocket> ConnectAsync(string path, Action<ClientWebSocketOptions>? configure = null)
    {
        var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(client.Options);
        await client.ConnectAsync(WebSocketUri(path), CancellationToken.None).DefaultTimeout();
        return client;
    }

    public Task<RawWebSocketClient> ConnectRawAsync(string path, IEnumerable<KeyValuePair<string, string>>? headers = null, int? receiveBufferSize = null)
        => RawWebSocketClient.ConnectAsync(WebSocketUri(path), headers, receiveBufferSize).DefaultTimeout();

    /// <summary>Stops the host gracefully, as a SIGTERM would.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _app.StopAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync();
    }
}
