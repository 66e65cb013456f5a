namespace WebSockets.Client.Internal;

/// <summary>
/// The client's one send queue: every message goes through it in order, and waits in it while the client is not
/// connected. Only the write pump of the current connection takes messages out, so the order is kept across
/// reconnections: what was queued before a reconnect goes out before what is queued after it.
/// </summary>
internal sealed class Outbox(int capacity)
{
    private readonly Queue<OutgoingMessage> _queue = new();
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiter;
    private bool _woken;
    private bool _closed;

    public int Capacity { get; } = capacity;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// Queues a message. When the outbox is full, expired and obsolete messages are purged first (expired ones are
    /// added to <paramref name="expired"/>). <paramref name="force"/> ignores the capacity (replies to the server).
    /// </summary>
    public bool TryEnqueue(OutgoingMessage message, DateTimeOffset now, int currentGeneration, bool force, ref List<OutgoingMessage>? expired)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (_closed)
            {
                throw new OutboxClosedException();
            }

            if (!force && _queue.Count >= Capacity)
            {
                Purge(now, currentGeneration, ref expired);
                if (_queue.Count >= Capacity)
                {
                    return false;
                }
            }

            _queue.Enqueue(message);
            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
        return true;
    }

    /// <summary>
    /// Returns the next message to write, leaving it in place until <see cref="Remove"/>. Expired messages at the
    /// head are removed and added to <paramref name="expired"/>; obsolete ones are removed.
    /// </summary>
    public OutgoingMessage? Peek(DateTimeOffset now, int currentGeneration, ref List<OutgoingMessage>? expired)
    {
        lock (_lock)
        {
            while (_queue.TryPeek(out var head))
            {
                if (head.IsObsolete(currentGeneration))
                {
                    _queue.Dequeue();
                }
                else if (head.IsExpired(now))
                {
                    (expired ??= []).Add(_queue.Dequeue());
                }
                else
                {
                    return head;
                }
            }

            return null;
        }
    }

    /// <summary>Removes <paramref name="message"/> once written, if it is still the head.</summary>
    public void Remove(OutgoingMessage message)
    {
        lock (_lock)
        {
            if (_queue.TryPeek(out var head) && ReferenceEquals(head, message))
            {
                _queue.Dequeue();
            }
        }
    }

    /// <summary>Completes when a message is queued or <see cref="Wake"/> is called (now or since the last wait).</summary>
    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_queue.Count > 0 || _woken)
            {
                _woken = false;
                return Task.CompletedTask;
            }

            _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _waiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Wakes the writer without a message, for example to let it see a stop request.</summary>
    public void Wake()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            _woken = waiter is null;
        }

        waiter?.TrySetResult();
    }

    /// <summary>Removes <paramref name="message"/> wherever it is; <see langword="false"/> if it is not in the outbox.</summary>
    public bool TryRemove(OutgoingMessage message)
    {
        lock (_lock)
        {
            var count = _queue.Count;
            var found = false;
            for (var i = 0; i < count; i++)
            {
                var queued = _queue.Dequeue();
                if (!found && ReferenceEquals(queued, message))
                {
                    found = true;
                    continue;
                }

                _queue.Enqueue(queued);
            }

            return found;
        }
    }

    /// <summary>Removes and returns the requests (never written) that someone still waits for; obsolete ones are removed too.</summary>
    public List<OutgoingMessage> TakeRequests(int currentGeneration)
    {
        lock (_lock)
        {
            var taken = new List<OutgoingMessage>();
            var count = _queue.Count;
            for (var i = 0; i < count; i++)
            {
                var message = _queue.Dequeue();
                if (message.Request is not null)
                {
                    if (!message.IsObsolete(currentGeneration))
                    {
                        taken.Add(message);
                    }

                    continue;
                }

                _queue.Enqueue(message);
            }

            return taken;
        }
    }

    /// <summary>Removes and returns every message that someone still wants (obsolete ones are left out), and closes the outbox: later enqueues throw <see cref="OutboxClosedException"/>.</summary>
    public List<OutgoingMessage> Clear(int currentGeneration)
    {
        lock (_lock)
        {
            var left = _queue.Where(m => !m.IsObsolete(currentGeneration)).ToList();
            _queue.Clear();
            _closed = true;
            return left;
        }
    }

    private void Purge(DateTimeOffset now, int currentGeneration, ref List<OutgoingMessage>? expired)
    {
        var count = _queue.Count;
        for (var i = 0; i < count; i++)
        {
            var message = _queue.Dequeue();
            if (message.IsObsolete(currentGeneration))
            {
                continue;
            }

            if (message.IsExpired(now))
            {
                (expired ??= []).Add(message);
                continue;
            }

            _queue.Enqueue(message);
        }
    }
}

/// <summary>The outbox was closed by the client's stop: nothing can be queued any more.</summary>
internal sealed class OutboxClosedException : Exception;
