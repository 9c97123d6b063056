using Istio.Mixer.V1;

namespace Mixer.Client;

/// <summary>
/// Assigns word indexes for one message (or one report batch): a global index when the word is
/// among the first <c>globalWordCount</c> global words, otherwise a word of the message's own list
/// (index -1 - i names the i-th).
/// </summary>
internal sealed class WordTable(int globalWordCount)
{
    private readonly List<string> _words = [];
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);

    public int GlobalWordCount { get; private set; } = globalWordCount;

    /// <summary>Empty again, for the next message, keeping the room it grew (a report batch has thousands of words).</summary>
    public void Reset(int globalWordCount)
    {
        GlobalWordCount = globalWordCount;
        _words.Clear();
        _slots.Clear();
    }

    /// <summary>The message words assigned so far, in slot order.</summary>
    public IReadOnlyList<string> Words => _words;

    public int Index(string word) => Index(word, GlobalDictionary.IndexOf(word));

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
