using System.Net.WebSockets;
using System.Text.Json;
using WebSockets.Client.Internal;

namespace WebSockets.Client;

public sealed partial class SocketClient
{
    private const string BatchPrefix = "batch_";

    /// <summary>Runs handlers one at a time, in arrival order, for the client's whole life (across reconnections).</summary>
    private async Task DispatchLoopAsync()
    {
        s_inDispatch.Value = true;
        var reader = _inbound.Reader;
        var token = _disposeCts.Token;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    using (message)
                    {
                        if (message.EventName is null)
                        {
                            await DispatchRawAsync(message, token).ConfigureAwait(false);
                        }
                        else
                        {
                            await DispatchEventAsync(message, token).ConfigureAwait(false);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private async Task DispatchRawAsync(InboundMessage message, CancellationToken cancellationToken)
    {
        var handler = Volatile.Read(ref _messageHandler);
        if (handler is null)
        {
            Log.MessageUnhandled(_logger, Name, message.Type, message.Payload!.Length);
            return;
        }

        try
        {
            await handler(new SocketClientMessage(message.Type, message.Payload), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, Name, message.Type == WebSocketMessageType.Binary ? "(binary message)" : "(message)", ex);
        }
    }

    private async Task DispatchEventAsync(InboundMessage message, CancellationToken cancellationToken)
    {
        var eventName = message.EventName!;
        if (_handlers.TryGetValue(eventName, out var handler))
        {
            await InvokeAsync(handler, message, message.Data, message.Id, cancellationToken).ConfigureAwait(false);
            return;
        }

        // A batch of an event the client handles item by item, in order.
        if (eventName.StartsWith(BatchPrefix, StringComparison.Ordinal)
            && message.Data.ValueKind == JsonValueKind.Array
            && _handlers.TryGetValue(eventName[BatchPrefix.Length..], out var itemHandler))
        {
            foreach (var item in message.Data.EnumerateArray())
            {
                await InvokeAsync(itemHandler, message, item, id: null, cancellationToken).ConfigureAwait(false);
            }

            if (message.Id is { } batchId)
            {
                Reply(message.Generation, ProtocolWriter.Reply(batchId, null, null, _json));
            }

            return;
        }

        if (eventName == "error" && message.Id is null)
        {
            var data = message.Data;
            var code = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("code", out var c) ? c.ToString() : "error";
            var text = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("message", out var m) ? m.ToString() : data.ToString();
            Log.ErrorNotice(_logger, Name, code, text);
            return;
        }

        if (message.Id is { } id)
        {
            Log.UnknownServerRequest(_logger, Name, eventName, id);
            Reply(message.Generation, ProtocolWriter.ErrorReply(id, "unknown_event", $"The client has no handler for event '{eventName}'."));
        }
        else
        {
            Log.EventUnhandled(_logger, Name, eventName);
        }
    }

    private async Task InvokeAsync(EventHandlerEntry handler, InboundMessage message, JsonElement data, long? id, CancellationToken cancellationToken)
    {
        var eventName = message.EventName!;
        object? result;
        try
        {
            result = await handler.Invoke(data, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            Log.DataNotBound(_logger, Name, eventName, ex.Message);
            ReplyError(message, id, "bad_data", $"The data of event '{eventName}' does not bind: {ex.Message}");
            return;
        }
        catch (SocketClientRequestException ex)
        {
            ReplyError(message, id, ex.Code, ex.Message);
            return;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, Name, eventName, ex);
            ReplyError(message, id, "handler_failed", $"The client's handler for event '{eventName}' failed.");
            return;
        }

        if (id is { } requestId)
        {
            byte[] reply;
            try
            {
                reply = ProtocolWriter.Reply(requestId, result, handler.ReplyType, _json);
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException)
            {
                Log.HandlerFailed(_logger, Name, eventName, ex);
                reply = ProtocolWriter.ErrorReply(requestId, "handler_failed", $"The client's reply to event '{eventName}' could not be serialized.");
            }

            Reply(message.Generation, reply);
        }
    }

    private void ReplyError(InboundMessage message, long? id, string code, string text)
    {
        if (id is { } requestId)
        {
            Reply(message.Generation, ProtocolWriter.ErrorReply(requestId, code, text));
        }
    }

    /// <summary>Queues a reply for the connection the request came on; it is dropped if that connection has ended.</summary>
    private void Reply(int generation, byte[] payload)
    {
        if (generation != Volatile.Read(ref _generation) || _stopRequested)
        {
            Log.StaleReply(_logger, Name);
            return;
        }

        List<OutgoingMessage>? expired = null;
        try
        {
            _outbox.TryEnqueue(new OutgoingMessage(WebSocketMessageType.Text, payload, null, generation, null), _time.GetUtcNow(), generation, force: true, ref expired);
        }
        catch (OutboxClosedException)
        {
            Log.StaleReply(_logger, Name);
            return;
        }

        ReportExpired(expired);
    }
}
