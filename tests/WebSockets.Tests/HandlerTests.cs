using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>GoFr-style handlers: binding each message, injecting services, writing the return value back.</summary>
public sealed class HandlerTests
{
    public sealed record ChatMessage(string User, string Text);

    public sealed class Counter
    {
        private int _value;

        public int Next() => Interlocked.Increment(ref _value);
    }

    public sealed class ScopedMarker
    {
        public Guid Id { get; } = Guid.NewGuid();
    }

    [Fact]
    public async Task StringHandler_EchoesTextBack()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (string message) => message));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("hello");
        Assert.Equal("hello", await client.ReceiveTextAsync());
        await client.SendTextAsync("world");
        Assert.Equal("world", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task JsonHandler_BindsRecordAndRepliesWithJson()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (ChatMessage msg) => new { msg.User, Shout = msg.Text.ToUpperInvariant() }));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("""{"user":"ann","text":"hi"}""");
        var reply = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("ann", reply.GetProperty("user").GetString());
        Assert.Equal("HI", reply.GetProperty("shout").GetString());
    }
}
