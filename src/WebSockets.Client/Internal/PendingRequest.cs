using System.Text.Json;

namespace WebSockets.Client.Internal;

/// <summary>A request of the client waiting for its reply.</summary>
internal sealed class PendingRequest(long id, string eventName)
{
    private readonly TaskCompletionSource<JsonElement> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Id { get; } = id;

    public string EventName { get; } = eventName;

    /// <summary>The connection the request was written to, or 0 while it has not been written.</summary>
    public int SentGeneration { get; set; }

    public Task<JsonElement> Task => _reply.Task;

    public bool TrySetReply(JsonElement data) => _reply.TrySetResult(data);

    public bool TrySetException(Exception exception) => _reply.TrySetException(exception);

    public void Abandon() => _reply.TrySetCanceled();
}
