using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>What a server saw of one upgrade request.</summary>
internal sealed record Handshake(string Path, string? Authorization, string? Service, string? QueryToken, string? SubProtocol);

/// <summary>What the test servers saw, kept across restarts of the server on the same port.</summary>
internal sealed class ServerRecord
{
    public ConcurrentQueue<Handshake> Handshakes { get; } = new();

    /// <summary>Every message of /ws/sink and every "record" event, as text, in arrival order.</summary>
    public Channel<string> Received { get; } = Channel.CreateUnbounded<string>();

    public async Task<List<string>> ReadAsync(int count)
    {
        var list = new List<string>();
        while (list.Count < count)
        {
            list.Add(await Received.Reader.ReadAsync().AsTask().DefaultTimeout());
        }

        return list;
    }
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 built with the library, which can be stopped and started again on the same
/// port. Endpoints:
/// <list type="bullet">
/// <item>/ws/echo: raw, every message comes back unchanged;</item>
/// <item>/ws/sink: raw, every message is recorded;</item>
/// <item>/ws/events: the event protocol (namespace "events"), offering the sub-protocol "svc.v1".</item>
/// </list>
/// </summary>
internal sealed class ClientTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ClientTestServer(WebApplication app, ServerRecord record)
    {
        _app = app;
        Record = record;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Port = new Uri(address).Port;
    }

    public int Port { get; }

    public ServerRecord Record { get; }

    public ISocketRegistry Registry => _app.Services.GetRequiredService<ISocketRegistry>();

    public Uri Uri(string path) => new($"ws://127.0.0.1:{Port}{path}");

    public static async Task<ClientTestServer> StartAsync(int port = 0, ServerRecord? record = null)
    {
        record ??= new ServerRecord();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        builder.Services.AddSocketRegistry(o => o.DrainTimeout = TimeSpan.FromSeconds(2))
            .AddNamespace("raw", ns => ns.OnConnected((socket, _) => RecordHandshake(record, socket, "raw")))
            .AddNamespace("events", ns => ns
                .OnConnected((socket, _) => RecordHandshake(record, socket, "events"))
                .On("echo", (JsonElement data) => data)
                .On<JsonElement>("record", (_, data, _) =>
                {
                    record.Received.Writer.TryWrite(data.GetRawText());
                    return Task.CompletedTask;
                })
                .On<string>("fail", (_, _, _) => throw new SocketRequestException("not_allowed", "No."))
                .On<string, string>("ask", async (socket, eventName, ct) =>
                {
                    try
                    {
                        return await socket.RequestAsync<string>(eventName, new { question = "ready?" }, TimeSpan.FromSeconds(10), ct);
                    }
                    catch (SocketRequestException ex)
                    {
                        return "error:" + ex.Code;
                    }
                })
                .On<int>("ticks", async (socket, count, ct) =>
                {
                    for (var i = 1; i <= count; i++)
                    {
                        await socket.EmitAsync("tick", i, ct);
                    }
                })
                .On<string>("news", (socket, text, ct) => socket.EmitAsync("news", text, ct).AsTask())
                .On<string>("close-then-hang", async (socket, _, ct) =>
                {
                    await socket.CloseAsync();
                    await Task.Delay(Timeout.Infinite, ct);
                })
                .UseBatch("tick", TimeSpan.FromSeconds(30), maxItems: 3));

        var app = builder.Build();
        // ISocketConnection hides the credentials (the access_token query parameter and the Authorization header); an
        // app reads them while authenticating. Here a middleware hands them to the connect hook under other names, so
        // tests can see what the client sent.
        app.Use((context, next) =>
        {
            context.Request.Headers[TokenHeader] = context.Request.Query["access_token"];
            context.Request.Headers[AuthorizationHeader] = context.Request.Headers.Authorization;
            return next(context);
        });
        app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message, o => o.Namespace = "raw");
        app.MapWebSocketEndpoint("/ws/sink", (SocketMessage message) =>
        {
            record.Received.Writer.TryWrite(message.IsText ? System.Text.Encoding.UTF8.GetString(message.Data.Span) : "binary:" + Convert.ToHexString(message.Data.Span));
        }, o => o.Namespace = "raw");
        app.MapWebSocketEndpoint("/ws/events", "events", o => o.SubProtocols.Add("svc.v1"));
        await app.StartAsync().DefaultTimeout();
        return new ClientTestServer(app, record);
    }

    /// <summary>Stops this server and starts a new one on the same port, with the same record.</summary>
    public async Task<ClientTestServer> RestartAsync()
    {
        await DisposeAsync();
        return await StartAsync(Port, Record);
    }

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

    private const string TokenHeader = "X-Test-Access-Token";
    private const string AuthorizationHeader = "X-Test-Authorization";

    private static Task RecordHandshake(ServerRecord record, ISocketConnection socket, string ns)
    {
        record.Handshakes.Enqueue(new Handshake(
            ns,
            socket.Headers[AuthorizationHeader].ToString() is { Length: > 0 } auth ? auth : null,
            socket.Headers["X-Service"].ToString() is { Length: > 0 } service ? service : null,
            socket.Headers[TokenHeader].ToString() is { Length: > 0 } token ? token : null,
            socket.SubProtocol));
        return Task.CompletedTask;
    }
}
