namespace ChatApp.Chat;

/// <summary>
/// Puts the presence changes of a room in order on this server. A join or leave, the member list read after it and
/// the <c>presence</c> event that carries the list happen under one lock. Members therefore get those events in the
/// order of the changes, and the last one they get is the latest. Without the lock, two people who join at once could
/// read their lists in one order and send them in the other, and the page would keep the older list. The room list
/// (<c>rooms</c>) has a lock of its own for the same reason; a join also counts the rooms under it, so that this server
/// can't open more than <see cref="ChatRules.MaxRooms"/>. The room list's lock is only ever taken last.
/// </summary>
public sealed class PresenceLocks
{
    // A fixed set of locks shared by all rooms (by hash), so that rooms that come and go don't grow a table.
    private readonly SemaphoreSlim[] _rooms = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly SemaphoreSlim _roomList = new(1, 1);

    /// <summary>Takes the lock of a room; dispose the result to release it.</summary>
    public Task<Releaser> EnterRoomAsync(string room, CancellationToken cancellationToken)
        => EnterAsync(_rooms[(StringComparer.Ordinal.GetHashCode(room) & int.MaxValue) % _rooms.Length], cancellationToken);

    /// <summary>Takes the lock of the room list; dispose the result to release it.</summary>
    public Task<Releaser> EnterRoomListAsync(CancellationToken cancellationToken) => EnterAsync(_roomList, cancellationToken);

    private static async Task<Releaser> EnterAsync(SemaphoreSlim semaphore, CancellationToken cancellationToken)
    {
        await semaphore.WaitAsync(cancellationToken);
        return new Releaser(semaphore);
    }

    /// <summary>Releases a lock taken by <see cref="PresenceLocks"/>.</summary>
    public readonly struct Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        /// <summary>Releases the lock.</summary>
        public void Dispose() => semaphore.Release();
    }
}
