using Istio.Mixer.V1;

namespace Mixer.Client;

/// <summary>
/// Assigns word indexes for one message (or one report batch): a global index when the word is
/// among the first <c>globalWordCount</c> global words, otherwise a word of the message's own list
/// (index -1 - i names the i-th).
/// </summary>
internal sealed class WordTable(int globalWordCount)
{
    private const int MemoSize = 256;

    private readonly List<string> _words = [];
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);

    // The index last given to a string instance, by identity: names, header keys and shared values
    // come back as the same instance set after set, and then cost no hashing of their text. Only a
    // table that is reused (a report batch's) has one; a one-off message's does not need it.
    private (string? Word, int Index)[]? _memo;

    public int GlobalWordCount { get; private set; } = globalWordCount;

    /// <summary>Empty again, for the next message, keeping the room it grew (a report batch has thousands of words).</summary>
    public void Reset(int globalWordCount)
    {
        GlobalWordCount = globalWordCount;
        _words.Clear();
        _slots.Clear();
        if (_memo is null)
        {
            _memo = new (string?, int)[MemoSize];
        }
        else
        {
            Array.Clear(_memo);
        }
    }

    /// <summary>The message words assigned so far, in slot order.</summary>
    public IReadOnlyList<string> Words => _words;

    public int Index(string word)
    {
        if (_memo is null)
        {
            return Index(word, GlobalDictionary.IndexOf(word));
        }

        ref var memo = ref _memo[System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(word) & (MemoSize - 1)];
        if (ReferenceEquals(memo.Word, word))
        {
            return memo.Index;
        }

        var index = Index(word, GlobalDictionary.IndexOf(word));
        memo = (word, index);
        return index;
    }

    /// <summary>The index of <paramref name="word"/> whose global dictionary index (or -1) is known already.</summary>
    public int Index(string word, int global)
    {
        if (global >= 0 && global < GlobalWordCount)
        {
            return global;
        }

        if (!_slots.TryGetValue(word, out var slot))
        {
            slot = _words.Count;
            _words.Add(word);
            _slots.Add(word, slot);
        }

        return -1 - slot;
    }
}
