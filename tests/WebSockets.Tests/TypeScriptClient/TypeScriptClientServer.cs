using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.TypeScriptClient;

/// <summary>
/// The real server the TypeScript client's node tests talk to (src/client-ts/test): every endpoint and event they use.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>/ws/ts</c> (namespace <c>ts</c>, client rooms allowed except <c>staff</c>): echo, errors, a request that never
/// answers, server→client requests on demand, a batched <c>tick</c>, a way to drop or close the connection, and a per-key
/// record of received events for outbox order checks; <c>kick</c> aborts another connection by ID.</item>
/// <item><c>/ws/plain</c> (namespace <c>plain</c>): no client rooms, so <c>$join</c> is an unknown event.</item>
/// <item><c>/ws/echo</c>: a raw handler that sends every text message back.</item>
/// <item>Any upgrade whose <c>access_token</c> is <c>reject</c> gets 401, so tests can make attempts fail.</item>
/// </list>
/// </remarks>
internal static class TypeScriptClientServer
{
    public static Task<TestHost> StartAsync()
    {
        var records = new ConcurrentDictionary<string, ConcurrentQueue<JsonElement>>(StringComparer.Ordinal);
        return TestHost.StartAsync(
            services => services.AddSocketRegistry(o => o.RequestTimeout = TimeSpan.FromSeconds(20))
                .AddNamespace("ts", ns => ns
                    .AllowClientRooms((_, room, _) => ValueTask.FromResult(room != "staff"))
                    .UseBatch("tick", TimeSpan.FromMilliseconds(30))
                    .On("echo", (JsonElement data) => data)
                    .On("whoami", (ISocketConnection c) => new { id = c.Id, token = c.Headers["X-Test-Access-Token"].ToString() })
                    .On<ChatSend>("chat.send", (c, m, ct) => c.EmitAsync("chat.message", new { text = m.Text, from = c.Id }, ct).AsTask())
                    .On("room.say", (RoomSay m, ISocketRegistry registry, CancellationToken ct) =>
                        registry.Rooms(m.Room).EmitAsync("room.message", new { room = m.Room, text = m.Text }, ct).AsTask())
                    .On("fail", object (string? code) => throw new SocketRequestException(code ?? "no_way", "Refused on purpose."))
                    .On("crash", object () => throw new InvalidOperationException("a bug"))
                    .On("hang", (CancellationToken ct) => Task.Delay(Timeout.Infinite, ct))
                    .On<int, int>("ticks", async (c, count, ct) =>
                    {
                        for (var i = 0; i < count; i++)
                        {
                            await c.EmitAsync("tick", i, ct);
                        }

                        return count;
                    })
                    .On<AskRequest, AskResult>("ask", async (c, ask, ct) =>
                    {
                        try
                        {
                            var reply = await c.RequestAsync<JsonElement>(ask.Event, ask.Data, TimeSpan.FromSeconds(10), ct);
                            return new AskResult(reply, null);
                        }
                        catch (SocketRequestException e)
                        {
                            return new AskResult(null, new AskError(e.Code, e.Message));
                        }
                    })
                    .On("drop", (ISocketConnection c) => c.Abort())
                    .On("kick", (string id, ISocketRegistry registry) =>
                    {
                        // Drops another connection, even one whose handlers are busy (a "hang" blocks its own queue).
                        if (registry.TryGetConnection(id, out var target))
                        {
                            target.Abort();
                        }
                    })
                    .On("close", (ISocketConnection c, int code) =>
                    {
                        // Not awaited: the handler returns first, then the close handshake runs.
                        _ = c.CloseAsync((WebSocketCloseStatus)code, "closed by the test");
                    })
                    .On("record", (ISocketConnection c, JsonElement data) =>
                        records.GetOrAdd(c.Query["key"].ToString(), static _ => new()).Enqueue(data.Clone()))
                    .On("recorded", (ISocketConnection c) =>
                        records.TryGetValue(c.Query["key"].ToString(), out var list) ? list.ToArray() : []))
                .AddNamespace("plain", ns => ns.On("echo", (JsonElement data) => data)),
            app =>
            {
                app.Use(async (context, next) =>
                {
                    if (context.Request.Query["access_token"] == "reject")
                    {
                        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        return;
                    }

                    // ISocketConnection.Query hides access_token (a credential); "whoami" reports it from this header.
                    context.Request.Headers["X-Test-Access-Token"] = context.Request.Query["access_token"];

                    await next(context);
                });
                app.MapWebSocketEndpoint("/ws/ts", "ts");
                app.MapWebSocketEndpoint("/ws/plain", "plain");
                app.MapWebSocketEndpoint("/ws/echo", (string message) => message);
            });
    }

    private sealed record ChatSend(string Text);

    private sealed record RoomSay(string Room, string Text);

    private sealed record AskRequest(string Event, JsonElement? Data);

    private sealed record AskError(string Code, string Message);

    private sealed record AskResult(JsonElement? Reply, AskError? Error);
}
