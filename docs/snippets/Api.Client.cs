// Samples of docs/api.md: the .NET client, WebSockets.Client.
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WebSockets.Client;

namespace DocsSnippets.Api;

public static class ClientExamples
{
    public static async Task Lifecycle(Func<CancellationToken, ValueTask<string?>> getToken, CancellationToken ct)
    {
        #region api-client-lifecycle
        await using var client = new SocketClient(new Uri("wss://chat.example.com/ws/chat"), new SocketClientOptions
        {
            AccessTokenProvider = getToken,         // called before every attempt
            RetryInterval = TimeSpan.FromSeconds(2),
        });

        client.StateChanged += (_, e) => Console.WriteLine($"{client.Name} ({client.Uri}): {e}, outbox {client.OutboxCount}");

        await client.StartAsync(ct);         // retries until connected, or until ct is canceled
        // or: await client.StartOrFailAsync(ct);  one attempt; its error is thrown
        Console.WriteLine(client.State);     // Connected
        await client.StopAsync(ct);          // flushes the outbox, closes with 1000; DisposeAsync does the same
        #endregion
    }

    public static void Handlers(SocketClient client)
    {
        #region api-client-handlers
        client.On<ChatLine>("chat.message", line => Console.WriteLine(line.Text));      // an event
        client.On<ChatLine>("chat.edited", async (line, ct) => await Task.Delay(10, ct)); // an asynchronous handler
        client.On<Question, bool>("confirm", question => question.Text.Length < 100);    // answers a server request
        client.On<Question, string>("ask", async (question, ct) =>
        {
            await Task.Delay(10, ct);
            return "yes";
        });
        using var errors = client.On<ErrorNotice>("error", e => Console.WriteLine($"{e.Code}: {e.Message}")); // error notices
        client.OnMessage((message, ct) =>                                                 // binary messages (every message in raw mode)
        {
            Console.WriteLine($"{message.MessageType}: {message.Data.Length} bytes");
            return ValueTask.CompletedTask;
        });
        // Disposing what On returned removes the handler.
        #endregion
    }

    public static async Task Sending(SocketClient client, CancellationToken ct)
    {
        #region api-client-send
        await client.EmitAsync("chat.send", new { text = "hi" }, cancellationToken: ct);
        await client.EmitAsync("typing", cancellationToken: ct);                                     // data: null
        var count = await client.RequestAsync<int>("chat.count", timeout: TimeSpan.FromSeconds(5), cancellationToken: ct);
        await client.SendAsync("plain text", new SocketClientSendOptions { TimeToLive = TimeSpan.FromSeconds(30) }, ct);
        await client.SendAsync(new byte[] { 1, 2, 3 }, SocketClientSendOptions.FailIfNotConnected, ct);
        await client.SendJsonAsync(new { count }, cancellationToken: ct);
        #endregion
    }

    public static async Task Errors(SocketClient client, CancellationToken ct)
    {
        #region api-client-errors
        try
        {
            await client.RequestAsync<string>("room.join", new { room = "staff" }, cancellationToken: ct);
        }
        catch (SocketClientRequestException e) when (e.Code == SocketClientRequestException.ConnectionClosedCode)
        {
            // written, but the connection dropped before the reply: the server may have handled it
        }
        catch (SocketClientRequestException e)
        {
            Console.WriteLine($"{e.Code}: {e.Message}"); // the server's error reply, or bad_reply
        }
        catch (SocketClientSendException e) when (e.Failure == SocketClientSendFailure.OutboxFull)
        {
            // not connected, and OutboxCapacity messages already wait: nothing was queued
        }
        catch (TimeoutException)
        {
            // no reply within SocketClientOptions.RequestTimeout (30 s)
        }
        #endregion
    }

    public static async Task Refresh(SocketClient client, CancellationToken ct)
    {
        #region api-client-refresh
        // Sends a fresh token from AccessTokenProvider with the built-in $auth request.
        await client.RefreshTokenAsync(ct);
        #endregion
    }

    public static async Task Raw(CancellationToken ct)
    {
        #region api-client-raw
        await using var echo = new SocketClient(new Uri("ws://localhost:5000/ws/echo"), new SocketClientOptions
        {
            Protocol = SocketClientProtocol.Raw,
            Headers = { ["X-Service"] = "orders" },
            SubProtocols = { "echo.v1" },
            AccessTokenPlacement = AccessTokenPlacement.QueryString, // ?access_token=…
        });
        echo.OnMessage((message, ct) =>
        {
            Console.WriteLine(message.IsText ? message.GetText() : $"{message.Data.Length} bytes");
            var parsed = message.IsText ? message.GetJson<Dictionary<string, int>>() : null;
            Console.WriteLine(parsed?.Count);
            return ValueTask.CompletedTask;
        });
        await echo.StartAsync(ct);
        await echo.SendJsonAsync(new { a = 1 }, cancellationToken: ct);
        #endregion
    }

    public static void States(SocketClientStateChangedEventArgs e)
    {
        #region api-client-states
        switch (e.State)
        {
            case SocketClientState.Connecting:
                Console.WriteLine($"attempt {e.Attempt}");
                break;
            case SocketClientState.Reconnecting:
                Console.WriteLine($"attempt {e.Attempt} in {e.Delay}");
                break;
            case SocketClientState.Disconnected when e.DisconnectReason == SocketClientDisconnectReason.ServerClosed:
                Console.WriteLine($"closed by the server: {e.CloseStatus}"); // EndpointUnavailable (1001) when it shut down
                break;
            case SocketClientState.Disconnected:
                Console.WriteLine($"{e.DisconnectReason}: {e.Exception?.Message}");
                break;
            case SocketClientState.Connected:
                break;
        }
        #endregion
    }

    public static void Services(WebApplicationBuilder builder, WebApplication app)
    {
        #region api-client-services
        builder.Services.AddWebSocketService("notifications", new Uri("ws://notifications:8080/ws"), options =>
        {
            options.Protocol = SocketClientProtocol.Raw;
            options.RetryInterval = TimeSpan.FromSeconds(5);
        });
        builder.Services.AddHealthChecks()
            .AddTypeActivatedCheck<WebSocketServiceHealthCheck>("notifications", HealthStatus.Degraded, args: "notifications");

        app.MapPost("/notify", async (IWebSocketServices services, CancellationToken ct) =>
        {
            await services.WriteMessageToServiceAsync("notifications", "plain text", cancellationToken: ct);
            await services.WriteMessageToServiceAsync("notifications", new byte[] { 1, 2 }, cancellationToken: ct);
            await services.WriteMessageToServiceAsync("notifications", new { title = "New message" }, cancellationToken: ct);
            SocketClient client = services.GetClient("notifications"); // for events, requests, handlers and State
            return Results.Ok(new { services.Names, state = client.State.ToString() });
        });
        #endregion
    }
}

public sealed record ChatLine(string Text);

public sealed record Question(string Text);

public sealed record ErrorNotice(string Code, string Message);
