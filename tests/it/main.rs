mod search_index;
