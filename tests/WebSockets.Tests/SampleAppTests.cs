using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>The EchoApp sample, hosted in-memory with WebApplicationFactory.</summary>
public sealed class SampleAppTests
{
    [Fact]
    public async Task EchoSample_WelcomesThenEchoesTextAsTextAndBinaryAsBinary()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var client = await ConnectAsync(factory);

        var welcome = await client.ReceiveTextAsync();
        var connection = Assert.Single(factory.Services.GetRequiredService<ISocketRegistry>().GetConnections());
        Assert.Equal($"welcome {connection.Id}", welcome);

        await client.SendTextAsync("hello, echo");
        var text = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, text.Type);
        Assert.Equal("hello, echo", text.Text);

        byte[] binary = [0x00, 0xFF, 0x10, 0x80, 0xC3, 0x28, 0x7F, 0x01];
        await client.SendBinaryAsync(binary);
        var echoed = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Data);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task EchoSample_PlainGetOnWebSocketEndpoint_Returns426()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var http = factory.CreateClient();

        using var response = await http.GetAsync("/ws/echo").DefaultTimeout();

        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
        Assert.Contains("WebSocket", await response.Content.ReadAsStringAsync().DefaultTimeout(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task EchoSample_ConnectionsEndpoint_CountsLiveConnection()
    {
        await using var factory = new WebApplicationFactory<Program>();
        using var http = factory.CreateClient();
        Assert.Equal(0, await GetConnectionCountAsync(http));

        using var client = await ConnectAsync(factory);
        Assert.StartsWith("welcome ", await client.ReceiveTextAsync(), StringComparison.Ordinal);

        Assert.Equal(1, await GetConnectionCountAsync(http));
    }

    private static async Task<WebSocket> ConnectAsync(WebApplicationFactory<Program> factory)
    {
        var wsClient = factory.Server.CreateWebSocketClient();
        var uri = new UriBuilder(factory.Server.BaseAddress) { Scheme = "ws", Path = "/ws/echo" }.Uri;
        return await wsClient.ConnectAsync(uri, CancellationToken.None).DefaultTimeout();
    }

    private static async Task<int> GetConnectionCountAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/connections").DefaultTimeout();
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().DefaultTimeout());
        return json.RootElement.GetProperty("count").GetInt32();
    }
}
