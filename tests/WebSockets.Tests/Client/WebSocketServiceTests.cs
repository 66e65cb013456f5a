using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>Named services in a host: AddWebSocketService, WriteMessageToServiceAsync, the hosted lifetime and the health check.</summary>
public sealed class WebSocketServiceTests
{
    [Fact]
    public async Task NamedService_WritesStringBytesAndJson_ToARawEchoEndpoint()
    {
        await using var server = await ClientTestServer.StartAsync();
        using var host = BuildHost(services => services.AddWebSocketService("echo", server.Uri("/ws/echo"), o =>
        {
            o.Protocol = SocketClientProtocol.Raw;
            o.Headers["X-Service"] = "orders";
        }));
        var services = host.Services.GetRequiredService<IWebSocketServices>();
        var echoes = Channel.CreateUnbounded<SocketClientMessage>();
        services.GetClient("echo").OnMessage((message, _) => echoes.Writer.WriteAsync(message));
        await host.StartAsync().DefaultTimeout();

        await services.WriteMessageToServiceAsync("echo", "hello");
        await services.WriteMessageToServiceAsync("echo", new byte[] { 1, 2, 3 });
        await services.WriteMessageToServiceAsync("echo", new { Title = "New", Count = 2 });

        var text = await echoes.Reader.ReadAsync().AsTask().DefaultTimeout();
        var binary = await echoes.Reader.ReadAsync().AsTask().DefaultTimeout();
        var json = await echoes.Reader.ReadAsync().AsTask().DefaultTimeout();
        Assert.Equal((WebSocketMessageType.Text, "hello"), (text.MessageType, text.GetText()));
        Assert.Equal(WebSocketMessageType.Binary, binary.MessageType);
        Assert.Equal(new byte[] { 1, 2, 3 }, binary.Data.ToArray());
        Assert.Equal((WebSocketMessageType.Text, "{\"title\":\"New\",\"count\":2}"), (json.MessageType, json.GetText()));
        Assert.Equal("orders", Assert.Single(server.Record.Handshakes).Service);

        await host.StopAsync().DefaultTimeout();
        Assert.Equal(SocketClientState.Disconnected, services.GetClient("echo").State);
    }

    [Fact]
    public async Task HealthCheck_HealthyWhileConnected_UnhealthyWhenTheServiceIsDown()
    {
        var server = await ClientTestServer.StartAsync();
        var time = new ManualTimeProvider();
        using var host = BuildHost(services =>
        {
            services.AddWebSocketService("notifications", server.Uri("/ws/events"), o => o.TimeProvider = time);
            services.AddHealthChecks().AddTypeActivatedCheck<WebSocketServiceHealthCheck>("notifications", args: "notifications");
        });
        var client = host.Services.GetRequiredService<IWebSocketServices>().GetClient("notifications");
        var states = new StateRecorder(client);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        try
        {
            await host.StartAsync().DefaultTimeout();
            await states.WaitForAsync(SocketClientState.Connected).DefaultTimeout();
            var healthy = await health.CheckHealthAsync().DefaultTimeout();

            await server.DisposeAsync();
            await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
            var unhealthy = await health.CheckHealthAsync().DefaultTimeout();

            Assert.Equal(HealthStatus.Healthy, healthy.Status);
            Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
            Assert.Equal("Reconnecting", unhealthy.Entries["notifications"].Data["state"]);
        }
        finally
        {
            await host.StopAsync().DefaultTimeout();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task NamedService_ReconnectOff_ServiceDown_FailsTheHostStart()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        using var host = BuildHost(services => services.AddWebSocketService("down", new Uri($"ws://127.0.0.1:{port}/ws"), o => o.Reconnect = false));

        await Assert.ThrowsAsync<WebSocketException>(() => host.StartAsync().DefaultTimeout());
    }

    [Fact]
    public async Task NamedService_ReconnectOn_ServiceDown_HostStartsAndSendsWaitInTheOutbox()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        var time = new ManualTimeProvider();
        using var host = BuildHost(services => services.AddWebSocketService("later", new Uri($"ws://127.0.0.1:{port}/ws/sink"), o =>
        {
            o.Protocol = SocketClientProtocol.Raw;
            o.TimeProvider = time;
        }));
        var services = host.Services.GetRequiredService<IWebSocketServices>();
        var states = new StateRecorder(services.GetClient("later"));

        await host.StartAsync().DefaultTimeout();
        await services.WriteMessageToServiceAsync("later", "waiting");
        var retry = await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
        await using var server = await ClientTestServer.StartAsync(port);
        time.Advance(retry.Delay);

        Assert.Equal(["waiting"], await server.Record.ReadAsync(1));
        await host.StopAsync().DefaultTimeout();
    }

    [Fact]
    public void Registration_DuplicateNameThrows_UnknownNameExplainsTheFix()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWebSocketService("a", new Uri("ws://127.0.0.1:1/"));

        Assert.Throws<InvalidOperationException>(() => services.AddWebSocketService("a", new Uri("ws://127.0.0.1:2/")));
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IWebSocketServices>().GetClient("b"));
        Assert.Contains("AddWebSocketService(\"b\"", ex.Message);
        Assert.Equal("a", provider.GetRequiredService<IWebSocketServices>().GetClient("a").Name);
    }

    private static IHost BuildHost(Action<IServiceCollection> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        configure(builder.Services);
        return builder.Build();
    }
}
